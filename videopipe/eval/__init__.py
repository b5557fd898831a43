"""videopipe.eval: multiple-choice long-video QA evaluation (Video-MME, MLVU, ... style)."""
