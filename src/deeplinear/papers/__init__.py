"""One module per reproduced paper; see :mod:`deeplinear.registry` for the shape they share."""
