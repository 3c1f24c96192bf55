"""Live updates: which company's data changed, told to every subscriber of every process."""
