"""The checks of a submission's parts: cases, comparisons, diagnosis,
numerical gradients, speed and integrity."""
