"""deeplinear: reproducible experiments and theorem checks for deep linear network theory papers.

The package holds all numerics, dataset I/O, claim checks and plotting of the pipeline; the
Snakemake workflow in ``workflow/`` only wires config values into these functions.
"""

__version__ = "0.1.0"

#: Bumped whenever a change to shared numerics alters the numbers experiments produce (a change
#: to one paper bumps that paper's ``Paper.version`` instead). Every experiment rule
#: passes it through ``params:``, so Snakemake's params rerun trigger recomputes on purpose
#: (and only then) when the numerics change; docstring or plotting edits do not rerun jobs.
NUMERICS_VERSION = "3"  # 3: logged values after every member stopped are the stopped state

__all__ = ["NUMERICS_VERSION", "__version__"]
