"""The sample organisation that `mlreport demo` runs on."""
