"""DEAP EEG (Koelstra et al., IEEE TAC 2012): the format, loaders, features and synthetic files.

Modules: :mod:`.format` (names, constants, :class:`~.format.DeapSource`, :class:`~.format.EEGTrials`),
:mod:`.release`, :mod:`.raw`, :mod:`.bdf`, :mod:`.folder`, :mod:`.features`, :mod:`.synthetic`.

DEAP is licence-restricted: users sign its EULA, download it, and point ``VAEINFO_DEAP`` (or a path
argument) at the folder that holds ``data_preprocessed_python/sNN.dat`` and/or ``data_original/sNN.bdf``
(and ``metadata_csv/participant_ratings.csv``). Without it, :func:`vaeinfo.data.deap.synthetic.make_synthetic`
writes files in exactly those formats with a planted emotion signal; a ``synthetic_deap.json`` manifest
beside them marks the folder as synthetic (it is recorded in every result) and gives its trial count and
length.

Both loaders return :class:`~.format.EEGTrials`: (trials, channels, samples) in uV at 128 Hz, each trial = 3 s
pre-trial baseline + the video (60 s in DEAP), EEG in Geneva order.

- :func:`.release.load_preprocessed` reads the released Python 2 pickles (``pickle.load(f, encoding="latin1")``,
  restricted to the numpy globals such a file needs) and checks keys, shapes, dtype, finiteness and
  the 1..9 rating range.
- :func:`.raw.load_raw` reads a raw BioSemi recording (512 Hz, 48 channels) through ``mne.io.read_raw_bdf``,
  finds the video-start code 4 in the Status channel (masked to its low 16 bits; bits 16-23 are
  BioSemi system flags), reorders EEG by channel name to Geneva order (s01-s22 were recorded in Twente
  order) and reproduces the release's processing: 512 -> 128 Hz (MNE's FFT resampling), 4-45 Hz
  zero-phase FIR band-pass (MNE defaults), common-average reference, 63 s cut from 3 s before each
  video start. Each trial is processed on its own segment with :data:`.format.MARGIN_S` of recording on both
  sides, longer than the filter's half-length. What differs from the release: the release also removed
  EOG artefacts (Koelstra et al., Sec. 6.1) -- not reproduced here, so raw-derived trials keep eye
  artefacts; its exact resampling and filter designs are not documented, so values differ numerically;
  only the 32 EEG channels are returned (the release's channels 33-40 are processed peripheral
  signals); and trials stay in presentation order unless ``participant_ratings.csv`` is given, which
  maps them to video (Experiment_id) order as in the release and supplies the labels.

Features (:func:`.features.extract_features`): per EEG channel the log band power (theta 4-8, alpha 8-13, beta
13-30, gamma 30-45 Hz; natural log of uV^2, Welch with 1 s Hann segments, 50 % overlap) over sliding
windows (2 s, step 1 s) of the video part, minus the same quantity over the 3 s pre-trial baseline
(so a feature is the log power ratio to baseline), plus frontal asymmetries right - left of those
values for the pairs Fp1-Fp2, AF3-AF4, F3-F4, F7-F8, FC5-FC6. Binary labels: :func:`.features.high_low` calls a
rating *high* when it is strictly above 5, as the DEAP convention does (the format doc: "high > 5"):
5 is the midpoint of the 1..9 scale, so a rating of exactly 5 (neutral) counts as low.
"""
