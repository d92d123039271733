"""Du & Hu (2019): the four experiments as job runners (config section -> cases, params -> Dataset).

One module per experiment, on two shared ones:

* :mod:`.setup`: the data, the initial weights, the logged steps (every experiment);
* :mod:`.cells`: one (depth, width) cell of GD runs by brute force, the narrow-net scans or the
  exact deep reduction, and its cost;
* :mod:`.phase_diagram` (i): T_eps over (depth, width, step size, seed), claims D1-D3, D6;
* :mod:`.init_statistics` (ii): the initial network's output law, claim D5;
* :mod:`.narrow_study` (iii): widths 1 and 2 at every depth, long runs, claim D4;
* :mod:`.cross_check`: brute force against the reduction in law, claim D7.
"""

from deeplinear.papers.duhu2019.experiments.cells import (
    METHOD_BRUTE_FORCE,
    METHOD_NARROW,
    METHOD_REDUCTION,
    run_cell,
    run_cell_narrow,
    run_cell_reduced,
    uses_narrow_scans,
    uses_reduction,
)
from deeplinear.papers.duhu2019.experiments.cross_check import cross_check_cases, cross_check_cost, run_cross_check
from deeplinear.papers.duhu2019.experiments.init_statistics import (
    init_statistics_cases,
    init_statistics_cost,
    run_init_statistics,
    sample_init_log_outputs,
)
from deeplinear.papers.duhu2019.experiments.narrow_study import narrow_cases, narrow_cost, run_narrow
from deeplinear.papers.duhu2019.experiments.phase_diagram import (
    phase_diagram_cases,
    phase_diagram_cost,
    run_phase_diagram,
)
from deeplinear.papers.duhu2019.experiments.setup import init_weights, log_grid, make_data, movement_layers

__all__ = [
    "METHOD_BRUTE_FORCE",
    "METHOD_NARROW",
    "METHOD_REDUCTION",
    "cross_check_cases",
    "cross_check_cost",
    "init_statistics_cases",
    "init_statistics_cost",
    "init_weights",
    "log_grid",
    "make_data",
    "movement_layers",
    "narrow_cases",
    "narrow_cost",
    "phase_diagram_cases",
    "phase_diagram_cost",
    "run_cell",
    "run_cell_narrow",
    "run_cell_reduced",
    "run_cross_check",
    "run_init_statistics",
    "run_narrow",
    "run_phase_diagram",
    "sample_init_log_outputs",
    "uses_narrow_scans",
    "uses_reduction",
]
