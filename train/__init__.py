"""Training stage: FER-2013 to a compact int8-friendly CNN, with reports."""
