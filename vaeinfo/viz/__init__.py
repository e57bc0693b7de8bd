"""Pictures: static figures (:mod:`.plots`) and live ipywidgets (:mod:`.widgets`)."""
