"""
rl_zoo3 integration: registers every algorithm of sb3_pg_extras with the zoo and runs the zoo's own scripts.

Usage (same arguments as ``python -m rl_zoo3.cli``)::

    python -m sb3_pg_extras.zoo train --algo reinforce --env CartPole-v1
    python -m sb3_pg_extras.zoo enjoy --algo reinforce --env CartPole-v1 -f logs/
    python -m sb3_pg_extras.zoo record_video --algo reinforce --env CartPole-v1 -f logs/
    python -m sb3_pg_extras.zoo plot_train / all_plots / plot_from_file ...
    sb3-pg-zoo train --algo reinforce --env CartPole-v1 -optimize --n-trials 10 --storage study.log --study-name s

The registration has to happen before the zoo parses its arguments (``--algo`` choices are read from
``rl_zoo3.utils.ALGOS`` at parse time), which is why ``--gym-packages`` cannot do it. Built-in keys are
never overwritten. When the user gives no ``--conf-file``, ``train`` on one of our algorithms reads this
package's ``zoo_hyperparams/<algo>.yml``.

Modules: :mod:`~sb3_pg_extras.zoo.registry` (registration, the packaged hyperparameter files),
:mod:`~sb3_pg_extras.zoo.samplers` (``-optimize`` search spaces and converters),
:mod:`~sb3_pg_extras.zoo.preprocessing` (YAML entries and ``-params`` values) and :mod:`~sb3_pg_extras.zoo.cli`
(the command line). Their public names are importable from ``sb3_pg_extras.zoo``.
"""

from sb3_pg_extras.zoo.cli import check_command_line, main, prepare_shared_storage, with_default_conf_file
from sb3_pg_extras.zoo.preprocessing import (
    SafeStoreDict,
    ZooEntry,
    parse_param_value,
    parse_params,
    preprocess_hyperparams,
    use_safe_store_dict,
)
from sb3_pg_extras.zoo.registry import ALGOS, hyperparams_path, register
from sb3_pg_extras.zoo.samplers import (
    CONVERTERS,
    SAMPLERS,
    convert_mppi_params,
    convert_npg_params,
    convert_offpac_params,
    convert_reinforce_params,
    convert_sac_discrete_params,
    convert_sac_policy_params,
    sample_mbpo_params,
    sample_mppi_params,
    sample_npg_params,
    sample_offpac_params,
    sample_reinforce_params,
    sample_sac_discrete_params,
    sample_svg_params,
)

__all__ = [
    "ALGOS",
    "CONVERTERS",
    "SAMPLERS",
    "SafeStoreDict",
    "ZooEntry",
    "check_command_line",
    "convert_mppi_params",
    "convert_npg_params",
    "convert_offpac_params",
    "convert_reinforce_params",
    "convert_sac_discrete_params",
    "convert_sac_policy_params",
    "hyperparams_path",
    "main",
    "parse_param_value",
    "parse_params",
    "prepare_shared_storage",
    "preprocess_hyperparams",
    "register",
    "sample_mbpo_params",
    "sample_mppi_params",
    "sample_npg_params",
    "sample_offpac_params",
    "sample_reinforce_params",
    "sample_sac_discrete_params",
    "sample_svg_params",
    "use_safe_store_dict",
    "with_default_conf_file",
]
