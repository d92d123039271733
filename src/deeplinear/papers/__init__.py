"""One module per reproduced paper; see :mod:`deeplinear.pipeline.registry` for the shape they share."""
