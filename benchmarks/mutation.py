"""
Mutation testing of the math modules with cosmic-ray (https://github.com/sixty-north/cosmic-ray): each module is
mutated one single-token edit at a time (operator and comparison swaps, +-1 on constants, removed ``not``, loops
that run zero times, ...) and its OWN test files are run against every mutant. A mutant the tests do not notice
"survives": a wrong line there would still pass. Score = killed / (killed + survived).

For every module: a cosmic-ray session (``cosmic-ray init``) in a copy of the repository (``--workdir``/sandbox,
so the working tree and any process importing the package from it never see a mutant), operator kinds in
``EXCLUDED_OPERATORS`` dropped (each with its reason), the equivalent mutants listed in ``EQUIVALENT`` excluded (each
with its reason), and those inside annotations of a module with ``from __future__ import annotations`` (never
evaluated), optionally a random sample of ``--sample N`` of the rest (seed ``--seed``), one unmutated run of the tests
(they must pass; it sets the per-mutant timeout), then ``cosmic-ray exec`` (a mutant whose tests run past the timeout
counts as killed; the report gives the count).

Equivalent mutants (no input can tell them apart from the original) are listed here, never marked in the library
code: an ``Equivalent`` entry names the module, a snippet of the code on the line (it must occur on exactly one line of
the module, or of the function or class ``within``, or of the block below the line holding ``after``), the operators
(fnmatch patterns of cosmic-ray operator names without ``core/``), optionally what the mutated line must read
(``becomes``, spaces ignored: e.g. only the ``-1`` of a ``NumberReplacer`` on an index), and the reason. An entry whose
snippet matches no line, or several, or that covers no mutant of its line, stops the run: the list cannot rot
(tests/test_mutation_driver.py checks every snippet too).

Modules run in parallel, one sandbox copy per job (``--jobs``, default: every CPU). The sessions are kept under
``--workdir`` (``cr-report build/mutation/<module>.sqlite`` lists every mutant).

Each module's outcome is stored in ``benchmarks/results/<name>.json`` with a fingerprint of the module, its test
files and ``tests/conftest.py``; a run of some modules replaces their entries and keeps the others. The report
(``<name>.md``: table per module with the commit each was run at, the surviving mutants with file:line and the edit,
the excluded ones with their reasons) and ``<name>.csv`` are rebuilt from every stored entry: a module whose files
changed since its entry was stored is reported as stale and left out of the totals, until it is run again.

Examples::

    python -m benchmarks.mutation                                   # every module, every mutant (make mutation)
    python -m benchmarks.mutation --modules common/returns.py       # one module
    python -m benchmarks.mutation --modules common/returns.py --sample 25   # a bounded run
    python -m benchmarks.mutation --list                            # mutant counts only, nothing run
    python -m benchmarks.mutation --report                          # rebuild the report from the stored entries
"""

from __future__ import annotations

import argparse
import ast
import csv
import datetime
import fcntl
import fnmatch
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import queue
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "mutation"
PACKAGE = "sb3_pg_extras"

# module (relative to sb3_pg_extras/) -> its own tests (pytest arguments, relative to the repository root): the test
# files that import the module's functions. Narrow an entry with "-k" when a file also trains agents.
MODULES: dict[str, list[str]] = {
    "common/returns.py": ["tests/test_returns.py"],
    "common/natural_gradient.py": ["tests/test_npg.py"],
    "common/off_policy.py": ["tests/test_offpac.py"],
    "common/critics.py": ["tests/test_critics.py", "tests/test_sac_discrete.py", "tests/test_offpac.py"],
    "common/dynamics/ensemble.py": ["tests/test_dynamics_ensemble.py", "tests/test_dynamics.py"],
    "common/dynamics/rollout.py": ["tests/test_dynamics.py"],
    "common/dynamics/trainer.py": ["tests/test_dynamics.py"],
    "common/dynamics/transitions.py": ["tests/test_dynamics_data.py"],
    "common/dynamics/buffers.py": ["tests/test_dynamics_data.py"],
    "common/dynamics/model.py": ["tests/test_dynamics_model.py", "tests/test_dynamics.py"],
    "common/dynamics/component.py": ["tests/test_dynamics_component.py"],
    "common/dynamics/schedule.py": ["tests/test_dynamics_schedule.py"],
    "common/dynamics/functions.py": [
        "tests/test_dynamics_functions.py",
        "tests/test_dynamics_component.py",
        "tests/test_env_checks.py",
    ],
    "common/buffers.py": ["tests/test_buffers.py"],
    "envs/classic.py": ["tests/test_envs.py"],
    "envs/mujoco_envs.py": ["tests/test_envs.py"],
    "envs/simulator.py": ["tests/test_simulator.py"],
    "common/planning/mppi.py": ["tests/test_planning.py", "tests/test_mppi.py"],
    "common/planning/simulator.py": ["tests/test_simulator.py", "tests/test_simulator_energy.py"],
    "common/planning/backends.py": ["tests/test_planning_backends.py"],
    "common/value_gradients.py": ["tests/test_svg.py"],
    # the algorithm files: only their loss code (SCOPES), against the algorithm's own tests
    "reinforce/reinforce.py": ["tests/test_reinforce.py"],
    "npg/npg.py": ["tests/test_npg.py"],
    "offpac/offpac.py": ["tests/test_offpac.py"],
    "sac_discrete/sac_discrete.py": ["tests/test_sac_discrete.py"],
    "svg/svg.py": ["tests/test_svg.py"],
    "mbpo/mbpo.py": ["tests/test_mbpo.py"],
    "mppi/mppi.py": ["tests/test_mppi.py"],
}

# Modules of which only some functions are mutated (bare names, as cosmic-ray reports a mutant's enclosing
# definition): the loss and update code of each algorithm file. The rest of those files is SB3 plumbing
# (construction, argument checks, learn, saving) whose behavior tests/test_generic.py and the algorithm's tests check
# by running it, not math a single-token slip could leave plausible; its mutants are reported as out of scope.
SCOPES: dict[str, tuple[str, ...]] = {
    "reinforce/reinforce.py": ("train", "_fit_baseline", "policy_loss", "_policy_step"),
    "npg/npg.py": ("train", "_fit_value", "_natural_step"),
    "offpac/offpac.py": ("_gradient_step", "_q_taken", "expected_q", "_update_critic", "_update_actor", "_policy_terms"),
    "sac_discrete/sac_discrete.py": (
        "resolve_target_entropy",
        "_gradient_step",
        "_temperature",
        "soft_target",
        "_update_critic",
        "_update_actor_and_temperature",
    ),
    "svg/svg.py": (
        "train",
        "_policy",
        "_min_q",
        "_update_temperature",
        "_update_critic",
        "_update_actor",
        "actor_objective",
        "act",
        "path_noise",
    ),
    "mbpo/mbpo.py": ("linear_rollout_horizon", "rollout_horizon", "train", "_imagine"),
    "mppi/mppi.py": ("plan", "resolved_termination_cost", "train"),
}
OUT_OF_SCOPE_REASON = "outside the module's loss code (SCOPES)"

_ARITH = "(Add|Sub|Mul|Div|FloorDiv|Mod|Pow)"
_BITWISE = "(LShift|RShift|BitOr|BitAnd|BitXor)"
_ORDER = "(Eq|NotEq|Lt|LtE|Gt|GtE)"
# Operator kinds left out of every session (regular expressions over cosmic-ray's operator names), with the reason.
# What remains: arithmetic <-> arithmetic and bitwise <-> bitwise swaps, every ordering/equality swap, is <-> is not,
# +-1 on every number constant, unary - / not / ~ removed or swapped within their kind, True <-> False, and <-> or,
# added "not", break <-> continue, removed decorators, loops that run zero times.
EXCLUDED_OPERATORS: dict[str, str] = {
    rf"core/ReplaceBinaryOperator_{_ARITH}_{_BITWISE}$": "arithmetic -> bitwise/shift: a TypeError on float arrays and "
    "tensors, so killed by any test that runs the line (coverage, not precision; the arithmetic swaps of the same "
    "operator cover the line)",
    rf"core/ReplaceBinaryOperator_{_BITWISE}_{_ARITH}$": "bitwise -> arithmetic: on boolean masks + and * are | and & "
    "(equivalent), otherwise a duplicate of the bitwise swaps",
    rf"core/ReplaceComparisonOperator_{_ORDER}_(Is|IsNot)$": "== / < ... -> is: identity of numbers depends on "
    "CPython's small-int cache, not a plausible slip",
    rf"core/ReplaceComparisonOperator_(Is|IsNot)_{_ORDER}$": "is None -> == None is equivalent, is None -> < None a "
    "TypeError (is <-> is not is kept)",
    r"core/ReplaceUnaryOperator_(UAdd|USub)_(Invert|Not)$": "-x -> ~x / not x: a TypeError on floats and float tensors "
    "(-x -> +x and removing - are kept)",
    r"core/ReplaceUnaryOperator_(Invert|Not)_(UAdd|USub)$": "~mask -> -mask: a TypeError on boolean tensors (removing ~ "
    "and ~ -> not are kept)",
}


@dataclass(frozen=True)
class Equivalent:
    """Mutants that no input can tell apart from the original module: those of ``operators`` (fnmatch patterns of
    cosmic-ray operator names without ``core/``) on the one line of ``module`` that contains ``code`` (searched inside
    the function or class ``within``, dotted for nested ones, and inside the block that starts on the line holding
    ``after``, when given), and whose mutated line contains ``becomes`` (spaces ignored) when given."""

    module: str  # relative to sb3_pg_extras/
    code: str
    operators: tuple[str, ...]
    reason: str
    becomes: str | None = None
    within: str | None = None
    after: str | None = None  # searched in the block that starts on the one line holding this (lines indented deeper)

    def __repr__(self) -> str:
        """The dataclass repr, which the stored fingerprints hash, without the fields added since (``after``) while
        they are unset: adding a field leaves the entries that do not use it, and their modules, fresh."""
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name != "after" or self.after is not None]
        return f"Equivalent({', '.join(shown)})"


_INDEX_0 = "one action dimension, so index 0 is index -1 (index 1 is out of range: not equivalent, run)"
_NUMPY_RESHAPE = "numpy's reshape infers the size of any negative dimension, so -2 is -1 (-0 is run)"
_FLAT = "flat Box spaces: the shape is 1-d, so index 0 is index -1 (index 1 is out of range: run)"
_TOLERANCE = (
    "a tolerance (the bound the tests accept on the measured error of an approximate reward), not a computation: "
    "loosening it cannot fail a test that checks the error against it (tightening it, the -1 edit, is run)"
)
_SHORTCUT = (
    "a shortcut: without it, 0 model transitions are sampled and the concatenation drops them; n_model >= 0 "
    "(real_ratio <= 1, MBPO checks it), so < 0 and == -1 never hold and <= 0 is == 0 (== 1 is run)"
)
# The equivalent mutants of every module, with the reason no input can tell them apart from the original.
EQUIVALENT: list[Equivalent] = [
    Equivalent(
        "common/natural_gradient.py",
        'if reduction == "sum" and kl.dim() > 1:',
        ("ReplaceComparisonOperator_Gt_NotEq",),
        "sum(dim=-1) of a 0-d tensor is the tensor itself",
    ),
    Equivalent(
        "common/natural_gradient.py",
        'if reduction == "sum" and kl.dim() > 1:',
        ("ReplaceComparisonOperator_Eq_GtE",),
        "reduction is checked above to be 'sum' or 'mean', and 'mean' sorts before 'sum': >= holds for 'sum' only",
    ),
    Equivalent(
        "common/critics.py",
        "if dropout_rate > 0:",
        ("ReplaceComparisonOperator_Gt_NotEq",),
        "regularized_mlp refuses a dropout_rate outside [0, 1) first: > 0 and != 0 agree on the rest",
    ),
    Equivalent(
        "common/critics.py",
        "input_dim = self.q_networks[0][0].in_features",
        ("NumberReplacer",),
        "every critic's first layer takes the same input (features + actions): the last critic's is the first's",
        becomes="q_networks[-1][0]",
    ),
    Equivalent(
        "common/off_policy.py",
        "n_envs: int = 1,",
        ("NumberReplacer",),
        "a default never used: SB3's collect_rollouts always passes n_envs",
    ),
    Equivalent(
        "common/off_policy.py",
        "def train(self, gradient_steps: int, batch_size: int = 64)",
        ("NumberReplacer",),
        "a default never used: SB3's learn always passes batch_size",
    ),
    Equivalent(
        "common/off_policy.py",
        "if self._n_updates % self.target_update_interval == 0:",
        ("*_Eq_LtE",),
        "% of positive integers is >= 0, so <= 0 is == 0",
    ),
    Equivalent(
        "common/buffers.py",
        "next(self.get(batch_size=self.buffer_size * self.n_envs))",
        tuple(f"ReplaceBinaryOperator_Mul_{op}" for op in ("Add", "Sub", "FloorDiv", "Mod", "Pow")),
        "the first batch is discarded: only SB3's in-place flattening counts, which any integer batch size triggers "
        "(a float one, the / edit, is run)",
    ),
    Equivalent(
        "common/dynamics/ensemble.py",
        "if len(coefs) == 1:",
        ("*_Eq_LtE",),
        "an empty list fails the length check below either way",
    ),
    Equivalent(
        "common/dynamics/ensemble.py",
        "order = th.argsort(position, stable=True)",
        ("*TrueWithFalse",),
        "any order within a group is undone by the inverse permutation",
    ),
    Equivalent(
        "common/dynamics/ensemble.py",
        "starts = th.cumsum(counts, 0) - counts",
        ("NumberReplacer",),
        "counts is 1-d, so dim 0 is dim -1 (dim 1 is out of range: not equivalent, run)",
        becomes="th.cumsum(counts, -1)",
    ),
    Equivalent(
        "common/dynamics/ensemble.py",
        "pad = int(order[0])",
        ("NumberReplacer",),
        "any sample pads the empty slots, whose outputs are never read (order[1] fails on a batch of 1: run)",
        becomes="order[-1]",
    ),
    Equivalent(
        "common/dynamics/rollout.py",
        'redraw = members is None and member_mode == "random"',
        ("*_Eq_GtE",),
        'no valid member mode sorts after "random"',
    ),
    Equivalent(
        "common/dynamics/rollout.py",
        "if start_obs.dim() == 1:",
        ("*_Eq_LtE",),
        "0-d start states are refused above",
    ),
    *(
        Equivalent("common/dynamics/buffers.py", code, ("NumberReplacer",), _NUMPY_RESHAPE, becomes="-2)", within=where)
        for code, where in (
            ("buffer.observations[:upper].reshape(upper * buffer.n_envs, -1),", "real_transitions"),
            ("buffer.actions[:upper].reshape(upper * buffer.n_envs, -1),", None),
            ("buffer.next_observations[:upper].reshape(upper * buffer.n_envs, -1),", None),
            ("buffer.rewards[:upper].reshape(-1),", None),
            ("terminated.reshape(-1),", None),
            ("buffer.observations[:upper].reshape(upper * buffer.n_envs, -1)[idx]", None),
        )
    ),
    Equivalent(
        "common/dynamics/buffers.py",
        "if n > self.capacity:",
        ("ReplaceComparisonOperator_Gt_GtE",),
        "at n == capacity the cut keeps all n transitions",
    ),
    Equivalent(
        "common/dynamics/buffers.py",
        "if n > self.capacity:",
        ("ReplaceComparisonOperator_Gt_Eq",),
        "without the cut, numpy writes the repeated slots (pos + i) % capacity in order, so the newest capacity "
        "transitions stay: stored() and the sampling distribution are the same, only the slot layout differs",
    ),
    Equivalent(
        "common/dynamics/buffers.py",
        "idx = (self.pos + np.arange(n)) % self.capacity",
        ("ReplaceBinaryOperator_Mod_Sub",),
        "pos < capacity and n <= capacity, so pos + i - capacity is in [-capacity, capacity), where numpy's negative "
        "indices wrap it to (pos + i) % capacity",
    ),
    Equivalent(
        "common/dynamics/buffers.py",
        "self.pos = int((self.pos + n) % self.capacity)",
        ("ReplaceBinaryOperator_Mod_Add", "ReplaceBinaryOperator_Mod_Sub"),
        "pos is only ever used modulo capacity (the insertion and stored() indices), and pos + n +- capacity is "
        "congruent to (pos + n) % capacity",
    ),
    Equivalent(
        "common/dynamics/buffers.py",
        "self.model_buffer = ModelTransitionBuffer(model_buffer_size, self.obs_shape[0], self.action_dim)",
        ("NumberReplacer",),
        "flat Box observations: obs_shape is 1-d, so index 0 is index -1 (index 1 is out of range: run)",
        becomes="self.obs_shape[-1]",
    ),
    Equivalent(
        "common/dynamics/buffers.py",
        "real = super().sample(batch_size - n_model, env) if n_model < batch_size else None",
        ("ReplaceComparisonOperator_Lt_LtE", "ReplaceComparisonOperator_Lt_NotEq"),
        "n_model <= batch_size (real_ratio >= 0, MBPO checks it), and at n_model == batch_size sampling 0 real "
        "transitions gives empty tensors that the concatenation drops",
    ),
    Equivalent(
        "common/dynamics/buffers.py",
        "n_model = 0 if len(self.model_buffer) == 0 else",
        ("ReplaceComparisonOperator_Eq_LtE",),
        "a length is >= 0, so <= 0 is == 0",
    ),
    Equivalent(
        "common/dynamics/buffers.py",
        "return ReplayBufferSamples(*(th.cat([r, m]) for r, m in zip(real[:5], model[:5])))",
        ("NumberReplacer",),
        "zip stops at the shorter of the two, 5 fields either way (the sixth, discounts, is never concatenated)",
        becomes="[:6]",
    ),
    Equivalent(
        "common/dynamics/buffers.py",
        "if n_model == 0:",
        ("ReplaceComparisonOperator_Eq_Lt", "ReplaceComparisonOperator_Eq_LtE"),
        _SHORTCUT,
    ),
    Equivalent("common/dynamics/buffers.py", "if n_model == 0:", ("NumberReplacer",), _SHORTCUT, becomes="== -1"),
    *(
        Equivalent("common/dynamics/component.py", f"{space}.shape[0],", ("NumberReplacer",), _FLAT, becomes="shape[-1]")
        for space in ("observation_space", "action_space")
    ),
    *(
        Equivalent(
            "common/dynamics/component.py",
            "rng=np.random.default_rng(int(np.random.randint(2**31))),",
            ("NumberReplacer",),
            "any seed range of 2^30 or more gives every fit its own reproducible generator (1**31, one seed for every "
            "fit, is run)",
            becomes=f"randint({bound})",
        )
        for bound in ("3**31", "2**32", "2**30")
    ),
    Equivalent(
        "common/dynamics/schedule.py",
        "self.last_model_update = -1",
        ("NumberReplacer",),
        "any negative step means no refit yet: both uses of it compare it with 0 (-0 is run)",
        becomes="= -2",
    ),
    *(
        Equivalent(
            "common/dynamics/model.py",
            "std = data.std(0, unbiased=False) if len(data) > 1 else th.ones_like(self.std)",
            (operator,),
            "one sample's (biased) std is 0, which the eps floor turns into the 1 of ones_like; only an empty fit differs, "
            "whose mean is NaN either way (the trainer refuses to fit on nothing)",
            becomes=becomes,
        )
        for operator, becomes in (
            ("NumberReplacer", "len(data) > 0"),
            ("ReplaceComparisonOperator_Gt_GtE", None),
            ("ReplaceComparisonOperator_Gt_NotEq", None),
        )
    ),
    Equivalent(
        "common/dynamics/model.py",
        "done_prob = th.sigmoid(logits.squeeze(-1)) if self.learn_termination else None",
        ("ReplaceUnaryOperator_Delete_USub", "ReplaceUnaryOperator_USub_UAdd"),
        "the logits of predict are (batch, 1): dim 1 is dim -1",
    ),
    Equivalent(
        "common/dynamics/trainer.py",
        "def holdout_mse(model: DynamicsModel, data: Transitions, batch_size: int = 4096)",
        ("NumberReplacer",),
        "the chunk size leaves the chunk-length-weighted mean unchanged (but for float rounding); the chunking is "
        "pinned with chunks of 3 and 1",
    ),
    Equivalent(
        "common/dynamics/trainer.py",
        "if n_holdout == 0:",
        ("*_Eq_LtE",),
        "n_holdout >= 0 for holdout_ratio >= 0 (DynamicsSettings checks it is in [0, 1)), so <= 0 is == 0",
    ),
    Equivalent(
        "common/dynamics/trainer.py",
        'epochs_since_update, epoch, loss_value = 0, 0, float("nan")',
        ("NumberReplacer",),
        "the first epoch always makes progress (the best starts at +inf) and resets the count to 0, and -1 <= patience "
        "wherever 0 is (patience >= 0; DynamicsSettings checks >= 1)",
        becomes="= -1, 0,",
    ),
    Equivalent(
        "common/dynamics/trainer.py",
        "np.tile(np.arange(n_train), (n_members, 1))",
        ("NumberReplacer",),
        "the shuffle's indices are < n_train, so the second copy of every member's rows is never read",
        becomes="(n_members, 2))",
    ),
    Equivalent(
        "common/dynamics/trainer.py",
        "while epochs_since_update <= patience and (max_epochs is None or epoch < max_epochs):",
        ("ReplaceComparisonOperator_Lt_NotEq",),
        "epoch counts up from 0 in steps of 1, so != max_epochs stops where < does for max_epochs >= 0 "
        "(DynamicsSettings checks >= 1)",
    ),
    Equivalent(
        "common/dynamics/trainer.py",
        "improved = best.isinf() | ((best - current) / best.clamp_min(1e-12) > improvement_threshold)",
        ("ReplaceBinaryOperator_BitOr_BitXor",),
        "where best is +inf, (best - current) / best is inf / inf = NaN, never above the threshold: the two sides are "
        "never both true, so ^ is |",
    ),
    Equivalent(
        "common/dynamics/trainer.py",
        "improved = best.isinf() | ((best - current) / best.clamp_min(1e-12) > improvement_threshold)",
        ("NumberReplacer",),
        "an MSE is >= 0, so the floor only acts at best == 0, where -current / 1e-12 and -current / 0 (or 0 / 0 = NaN) "
        "are never above a threshold >= 0 (DynamicsSettings checks it)",
        becomes="clamp_min(-0.999999999999)",
    ),
    *(
        Equivalent(
            "envs/classic.py", "torque = action[..., 0]", ("NumberReplacer",), _INDEX_0, becomes="action[...,-1]", within=where
        )
        for where in ("pendulum_reward", "pendulum_dynamics")
    ),
    Equivalent("envs/classic.py", "ctrl_cost = action[..., 0]", ("NumberReplacer",), _INDEX_0, becomes="action[..., -1]"),
    Equivalent("envs/classic.py", "force = action[..., 0]", ("NumberReplacer",), _INDEX_0, becomes="action[..., -1]"),
    Equivalent(
        "envs/classic.py",
        "stop = (position == wall) & (velocity < 0)",
        ("*_LtE",),
        "position is clamped >= wall, so <= wall is == wall; a zero speed set to 0 stays 0",
    ),
    Equivalent(
        "envs/mujoco_envs.py",
        "z, angle, state = next_obs[..., 0], next_obs[..., 1], next_obs[..., 1:]",
        ("NumberReplacer",),
        "the torso angle (index 1) must also lie in (-0.2, 0.2), inside the state's (-100, 100), NaN failing both: "
        "leaving it out of the state check changes nothing",
        becomes="next_obs[..., 2:]",
    ),
    *(
        Equivalent(
            "envs/mujoco_envs.py",
            f"{name}={value},",
            ("NumberReplacer",),
            _TOLERANCE,
            becomes=f"={1 + float(value)}",
            after=f'"{env_id}": EnvFunctions(',
        )
        for env_id, atol, mean_atol in (  # as written in the module
            ("InvertedDoublePendulum-v5", "0.2", "2e-4"),
            ("HalfCheetah-v5", "1.0", "0.12"),
            ("Hopper-v5", "0.1", "0.003"),
            ("Walker2d-v5", "0.3", "0.012"),
            ("Swimmer-v5", "0.5", "0.01"),
            ("Ant-v5", "1.0", "0.08"),
        )
        for name, value in (("reward_atol", atol), ("reward_mean_atol", mean_atol))
    ),
    Equivalent(
        "common/planning/mppi.py",
        "weights = th.softmax(-(costs - costs.min()) / temperature, dim=0)",
        ("NumberReplacer",),
        "costs is 1-d, so dim 0 is dim -1 (dim 1 is out of range: not equivalent, run)",
        becomes="dim=-1",
    ),
    Equivalent(
        "common/planning/mppi.py",
        "if smoothing == 0.0:",
        ("*_Eq_Lt*", "NumberReplacer"),
        "a shortcut, and the mixing below is the identity at 0; a smoothing outside [0, 1) reaches smoothing_matrix, "
        "which refuses it with the same error whichever branch it takes, so < 0 is refused either way, <= 0 is == 0, "
        "and == 1 or == -1 raise the same error as the original",
    ),
    Equivalent(
        "common/planning/mppi.py",
        "matrix.index_put_((steps, lower), 1 - frac, accumulate=True)",
        ("ReplaceTrueWithFalse",),
        "the first write into a matrix of zeros, at one (step, lower) pair per distinct step: adding equals setting",
    ),
    Equivalent(
        "common/planning/mppi.py",
        "if diverged == self.n_samples:",
        ("ReplaceComparisonOperator_Eq_GtE",),
        "diverged counts the non-finite entries of the n_samples costs, so it is never above n_samples",
    ),
    Equivalent(
        "common/planning/mppi.py",
        "lag = (steps.unsqueeze(1) - steps.unsqueeze(0)).clamp_min(0).to(dtype)",
        ("NumberReplacer",),
        "tril drops every entry with a negative lag, so a floor of -1 changes nothing kept (a floor of 1 changes the "
        "diagonal: run)",
        becomes="clamp_min(-1)",
    ),
    Equivalent(
        "common/dynamics/functions.py",
        'spec = env.get_attr("spec")[0]',
        ("NumberReplacer",),
        "an SB3 VecEnv holds copies of one env (one id): its first and last envs have the same spec (index 1 fails on "
        "one env: run)",
        becomes='get_attr("spec")[-1]',
        within="vec_env_id",
    ),
    Equivalent(
        "envs/mujoco_envs.py",
        'return healthy_state & (z > 0.7) & (z < float("inf"))',
        ("ReplaceComparisonOperator_Lt_NotEq",),
        "z < inf and z != inf differ only for a NaN z, which z > 0.7 already marks unhealthy",
        within="hopper_is_healthy",
    ),
    Equivalent(
        "common/planning/simulator.py",
        "data.qpos[:], data.qvel[:] = qpos[0], qvel[0]",
        ("NumberReplacer",),
        "the state behind one observation: a batch of one, so index 0 is index -1 (index 1 is out of range: run)",
        becomes="qvel[-1]",
        within="SimulatorRollout.initial_state",
    ),
    Equivalent(
        "common/planning/simulator.py",
        "nthread: int = 0,",
        ("NumberReplacer",),
        "the number of threads decides where mujoco.rollout steps the physics, never the results: one MjData either "
        "way (max(nthread, 1)), the calling thread for 0 (and -1, which mujoco accepts), a pool of one thread for 1",
        within="SimulatorRollout.__init__",
    ),
    Equivalent(
        "common/planning/simulator.py",
        "self._predictions.append((self.spec.state_to_obs(self.env, qpos, qvel)[0], qvel))",
        ("NumberReplacer",),
        "the prediction rolls out one start state: a batch of one, so index 0 is index -1 (index 1 is out of range: run)",
        becomes=")[-1],",
        within="SimulatorRollout.executed",
    ),
    Equivalent(
        "common/planning/simulator.py",
        "by_energy = np.take_along_axis(gained, first_step, axis=1)[:, 0] & diverged[:, -1]",
        ("NumberReplacer",),
        "first_step is (K, 1), so take_along_axis gives (K, 1): column 0 is column -1 (column 1 is out of range: run)",
        becomes="axis=1)[:,-1]",
        within="SimulatorRollout.__call__",
    ),
    *(  # the velocity slice's end moved past the last column, by either of its two constants
        Equivalent(
            "common/planning/simulator.py",
            "force, velocity = sensors[..., 2 : 2 + nu], sensors[..., 2 + nu : 2 + 2 * nu]",
            ("NumberReplacer",),
            "sensors keeps exactly its last 2 + 2 nu columns (the line above), so a slice that ends past 2 + 2 nu stops "
            "at the last column all the same (an end below it, or a moved start, is run)",
            becomes=end,
            within="SimulatorRollout.energy_gain",
        )
        for end in ("2+nu:2+3*nu]", "2+nu:3+2*nu]")
    ),
    Equivalent(
        "common/planning/simulator.py",
        "physics_controls = np.repeat(np.asarray(control, dtype=np.float64).reshape(1, 1, -1), self.frame_skip, axis=1)",
        ("NumberReplacer",),
        _NUMPY_RESHAPE,
        becomes="-2),",
        within="SimulatorRollout.executed",
    ),
    Equivalent(
        "common/planning/simulator.py",
        "force, velocity = sensors[..., 2 : 2 + nu], sensors[..., 2 + nu : 2 + 2 * nu]",
        ("ReplaceBinaryOperator_Mul_Pow",),
        "2 ** nu equals 2 * nu for nu = 1 and 2 and exceeds it above, where the slice stops at the last of the 2 + 2 nu "
        "columns all the same (every simulator model has nu >= 1)",
        becomes="2+2**nu]",
        within="SimulatorRollout.energy_gain",
    ),
    Equivalent(
        "common/planning/simulator.py",
        "per_step = bad.reshape(len(bad), -1, self.frame_skip).any(-1)",
        ("NumberReplacer",),
        _NUMPY_RESHAPE,
        becomes="-2,",
        within="SimulatorRollout._per_env_step",
    ),
    Equivalent(
        "common/planning/backends.py",
        'if mode != "auto":',
        ("ReplaceComparisonOperator_NotEq_Gt",),
        "MPPI refuses any other dynamics_mode first, and 'known', 'learned' and 'simulator' all sort after 'auto' (< is run)",
        within="resolve_dynamics_mode",
    ),
    Equivalent(
        "common/planning/backends.py",
        'return rewards.masked_fill(~th.isfinite(next_obs.sum(-1)), float("nan"))',
        ("ReplaceUnaryOperator_Delete_USub", "ReplaceUnaryOperator_USub_UAdd"),
        "next_obs is (batch, obs_dim): axis 1 is axis -1 (the 0 and -2 of NumberReplacer are run)",
        within="mark_diverged",
    ),
    Equivalent(
        "common/planning/backends.py",
        "keep_transitions=False,",
        ("ReplaceFalseWithTrue",),
        "only what the rollout keeps besides rewards and alive flags: the planner reads those two, the same either way",
        within="_OpenLoopBackend.rollout",
    ),
    Equivalent(
        "common/planning/backends.py",
        "assert functions.reward is not None and functions.termination is not None",
        ("ReplaceAndWithOr",),
        "an invariant, not a check: resolve_transition_functions returns both functions or raises, so neither form fails",
    ),
    Equivalent(
        "mppi/mppi.py",
        "def train(self, gradient_steps: int, batch_size: int = 64) -> None:",
        ("NumberReplacer",),
        "the default is never used: SB3's OffPolicyAlgorithm.learn always passes batch_size=self.batch_size",
    ),
    Equivalent(
        "mppi/mppi.py",
        "if self.planner.n_all_diverged > self._all_diverged_reported:",
        ("ReplaceComparisonOperator_Gt_NotEq",),
        "the planner's count only grows and the reported count is set to it (both start at 0 in _setup_model), so it "
        "is never below the reported one: != is > (>= is run)",
    ),
    Equivalent(
        "mppi/mppi.py",
        "self.plan_time += time.perf_counter() - start",
        ("ReplaceBinaryOperator_Sub_Mod",),
        "perf_counter() - start and perf_counter() % start agree while start <= perf_counter() < 2 start, i.e. for any "
        "interval shorter than the clock's reading at its start (seconds since boot on Linux; / and // are run)",
    ),
    Equivalent(
        "mppi/mppi.py",
        'logger.record("planner/diverged_fraction", self.planner.n_diverged / max(self.planner.n_sampled, 1))',
        ("NumberReplacer",),
        "recorded right after a plan, when n_sampled >= n_samples >= 2 (checked at construction): max(n, 0), max(n, 1) "
        "and max(n, 2) are all n",
    ),
    Equivalent(
        "mbpo/mbpo.py",
        "def train(self, gradient_steps: int, batch_size: int = 64) -> None:",
        ("NumberReplacer",),
        "the default is never used: SB3's OffPolicyAlgorithm.learn always passes batch_size=self.batch_size",
    ),
    Equivalent(
        "mbpo/mbpo.py",
        "self.sac_train_time += time.perf_counter() - start",
        ("ReplaceBinaryOperator_Sub_Mod",),
        "perf_counter() - start and perf_counter() % start agree while start <= perf_counter() < 2 start, i.e. for any "
        "interval shorter than the clock's reading at its start (seconds since boot on Linux; / and // are run)",
    ),
    Equivalent(
        "mbpo/mbpo.py",
        "self.model_rollout_time += time.perf_counter() - start",
        ("ReplaceBinaryOperator_Sub_Mod",),
        "perf_counter() - start and perf_counter() % start agree while start <= perf_counter() < 2 start, i.e. for any "
        "interval shorter than the clock's reading at its start (seconds since boot on Linux; / and // are run)",
    ),
    Equivalent(
        "svg/svg.py",
        "def train(self, gradient_steps: int, batch_size: int = 64) -> None:",
        ("NumberReplacer",),
        "the default is never used: SB3's OffPolicyAlgorithm.learn always passes batch_size=self.batch_size",
    ),
    Equivalent(
        "svg/svg.py",
        "if self.uses_critic and gradient_step % self.target_update_interval == 0:",
        ("ReplaceComparisonOperator_Eq_LtE",),
        "gradient_step % interval is >= 0 (both are non-negative integers), so <= 0 is == 0 (the other swaps are run)",
    ),
    Equivalent(
        "npg/npg.py",
        "if self.sub_sampling_factor > 1:",
        ("ReplaceComparisonOperator_Gt_GtE", "ReplaceComparisonOperator_Gt_NotEq"),
        "sub_sampling_factor is an integer >= 1 (checked at construction), and at 1 the subsampling slice [::1] takes "
        "every state: the same Fisher (<= 1, which skips it at 2, is run)",
        within="NPG._natural_step",
    ),
    Equivalent(
        "npg/npg.py",
        "if self.sub_sampling_factor > 1:",
        ("NumberReplacer",),
        "sub_sampling_factor is an integer >= 1 (checked at construction): > 0 also subsamples at 1, whose slice [::1] "
        "takes every state and whose recomputed old distribution (no_grad, same parameters) is the one copied above "
        "(> 2, which skips it at 2, is run)",
        becomes="> 0",
        within="NPG._natural_step",
    ),
    Equivalent(
        "npg/npg.py",
        'if self.step_rule == "trust_region":',
        ("ReplaceComparisonOperator_Eq_GtE",),
        'step_rule is "trust_region" or "fixed" (checked at construction), and "fixed" >= "trust_region" is False: '
        "the same branch for both (the other swaps are run)",
        within="NPG._natural_step",
    ),
    Equivalent(
        "reinforce/reinforce.py",
        "order = th.randperm(n_samples, device=returns.device) if batch_size < n_samples else None",
        ("ReplaceComparisonOperator_Lt_NotEq",),
        "batch_size = min(..., n_samples) <= n_samples, so < and != agree (the other swaps are run)",
        within="REINFORCE._fit_baseline",
    ),
    Equivalent(
        "reinforce/reinforce.py",
        "if converged >= self.baseline_patience:",
        ("ReplaceComparisonOperator_GtE_Eq",),
        "converged grows by 1 from 0 and the fit stops when it reaches baseline_patience >= 1 (checked at "
        "construction), so >= and == first hold at the same epoch (the other swaps are run)",
        within="REINFORCE._fit_baseline",
    ),
    Equivalent(
        "offpac/offpac.py",
        "if self._current_ent_coef > 0:",
        ("ReplaceComparisonOperator_Gt_GtE", "ReplaceComparisonOperator_Gt_NotEq"),
        "at ent_coef 0 the bonus term is 0: the branch only saves its cost; a negative value never reaches it "
        "(scheduled_coefficient refuses it), so != 0 is > 0 (< 0 and == 0 are run)",
        within="OffPAC._update_actor",
    ),
    Equivalent(
        "offpac/offpac.py",
        "with th.set_grad_enabled(self._current_ent_coef > 0):",
        ("ReplaceComparisonOperator_Gt_GtE", "ReplaceComparisonOperator_Gt_NotEq"),
        "the scheduled ent_coef is >= 0 at every update (scheduled_coefficient refuses a negative one), so != 0 is > 0, "
        "and at ent_coef 0 the entropy estimate's gradient is multiplied by 0 in the loss (< 0 is run)",
        within="OffPAC._policy_terms",
    ),
    Equivalent(
        "offpac/offpac.py",
        "if self.normalize_advantage and len(advantages) > 1:",
        ("ReplaceComparisonOperator_Gt_NotEq",),
        "a batch holds at least one sample, so len != 1 is len > 1 (>= 1 and > 0, which standardize a batch of one, are run)",
        within="OffPAC._update_actor",
    ),
    Equivalent(
        "offpac/offpac.py",
        "if self._current_ent_coef > 0:",
        ("NumberReplacer",),
        "the scheduled ent_coef is >= 0 at every update (scheduled_coefficient refuses a negative one), so > -1 also "
        "takes ent_coef 0, where the term added is 0 times the entropy: the same loss and gradient (> 1 is run)",
        becomes="if self._current_ent_coef > -1:",
        within="OffPAC._update_actor",
    ),
    Equivalent(
        "offpac/offpac.py",
        "advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)",
        ("ReplaceBinaryOperator_Add_Sub",),
        "std + 1e-8 and std - 1e-8 differ by 2e-8: relative 2e-8 where the std is not tiny, and where it is within 1e-8 "
        "of 0 the centered advantages are 0 up to rounding, so the loss is 0 either way (the other swaps are run)",
        becomes="(advantages.std() - 1e-8)",
        within="OffPAC._update_actor",
    ),
]


def _squeeze(text: str) -> str:
    return "".join(text.split())


def equivalent_lines(module: str, source: str, entries: list[Equivalent] | None = None) -> dict[int, list[Equivalent]]:
    """Line number (1-based) -> the entries of ``module`` (default: those in ``EQUIVALENT``) on that line; a
    ValueError when a snippet matches no line, or several, of the module or of its ``within`` function or class."""
    entries = [e for e in (EQUIVALENT if entries is None else entries) if e.module == module]
    lines = source.splitlines()
    scopes: dict[str, list[tuple[int, int]]] = {}
    if any(e.within for e in entries):

        def visit(node: ast.AST, prefix: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    name = f"{prefix}{child.name}"
                    scopes.setdefault(name, []).append((child.lineno, child.end_lineno or child.lineno))
                    visit(child, name + ".")
                else:
                    visit(child, prefix)

        visit(ast.parse(source), "")
    by_line: dict[int, list[Equivalent]] = {}
    for entry in entries:
        first, last = 1, len(lines)
        if entry.within is not None:
            spans = scopes.get(entry.within, [])
            if len(spans) != 1:
                raise ValueError(f"{module}: {len(spans)} functions or classes named {entry.within!r} (need one): {entry}")
            first, last = spans[0]
        if entry.after is not None:
            anchors = [n for n in range(first, last + 1) if entry.after in lines[n - 1]]
            if len(anchors) != 1:
                raise ValueError(f"{module}: the anchor {entry.after!r} is on {len(anchors)} lines (need one): {entry}")
            first = end = anchors[0]
            indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
            while end < last and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
                end += 1
            last = end
        found = [n for n in range(first, last + 1) if entry.code in lines[n - 1]]
        if len(found) != 1:
            where = "".join(
                f" {kind} {scope!r}" for kind, scope in (("within", entry.within), ("after", entry.after)) if scope
            )
            raise ValueError(f"{module}: the snippet {entry.code!r} is on {len(found)} lines{where} (need one): {entry}")
        by_line.setdefault(found[0], []).append(entry)
    return by_line


def equivalent_entry(
    by_line: dict[int, list[Equivalent]], mutant: Mutant, mutated_line: Callable[[Mutant], str]
) -> Equivalent | None:
    """The entry covering ``mutant`` (its first line, its operator, and what ``mutated_line(mutant)`` reads)."""
    for entry in by_line.get(mutant.line, []):
        if not any(fnmatch.fnmatchcase(mutant.operator, p) for p in entry.operators):
            continue
        if entry.becomes is None or _squeeze(entry.becomes) in _squeeze(mutated_line(mutant)):
            return entry
    return None


def slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


@dataclass
class Mutant:
    job_id: str
    operator: str  # without "core/"
    occurrence: int
    line: int
    column: int
    definition: str | None
    outcome: str = "pending"  # killed / timeout / survived / incompetent / equivalent / excluded / not-sampled /
    # out-of-scope
    reason: str = ""
    diff: str = ""


@dataclass
class ModuleResult:
    module: str
    tests: list[str]
    mutants: list[Mutant] = field(default_factory=list)
    baseline_s: float = 0.0
    timeout_s: float = 0.0
    exec_s: float = 0.0
    error: str = ""
    fingerprint: str = ""
    source: str = ""  # git state and date of the run that produced this entry
    sample: int | None = None
    seed: int = 0
    stale: bool = False  # the module or its tests changed since this entry was stored

    def count(self, *outcomes: str) -> int:
        return sum(m.outcome in outcomes for m in self.mutants)

    @property
    def generated(self) -> int:  # mutants of the kept operator kinds, in the module's scope
        return len(self.mutants) - self.count("excluded", "out-of-scope")

    @property
    def tried(self) -> int:
        return self.count("killed", "timeout", "survived", "incompetent")

    @property
    def killed(self) -> int:
        return self.count("killed", "timeout")

    @property
    def survived(self) -> int:
        return self.count("survived")

    @property
    def score(self) -> float | None:
        judged = self.killed + self.survived
        return self.killed / judged if judged else None


def fingerprint(module: str, root: Path = ROOT) -> str:
    """Hash of what decides a module's outcome: its source, its test files and the shared test fixtures (under
    ``root``: the working tree, or the sandbox a run tests), and its entries in ``EQUIVALENT``."""
    digest = hashlib.sha256()
    for name in [f"{PACKAGE}/{module}", *MODULES[module], "tests/conftest.py"]:
        path = root / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    if module in SCOPES:
        digest.update(repr(SCOPES[module]).encode())
    entries = [e for e in EQUIVALENT if e.module == module]
    if entries:  # (a module without entries keeps the fingerprint it had before the list existed)
        digest.update(repr(entries).encode())
    return digest.hexdigest()[:16]


def stored_path(name: str) -> Path:
    return RESULTS / f"{name}.json"


def load_stored(name: str) -> dict[str, ModuleResult]:
    """The stored entries of report ``name``, marked stale where the module's files changed since."""
    path = stored_path(name)
    if not path.exists():
        return {}
    stored = {}
    for module, entry in json.loads(path.read_text()).items():
        if module not in MODULES:
            continue
        result = ModuleResult(**{k: v for k, v in entry.items() if k != "mutants"})
        result.mutants = [Mutant("", *row) for row in entry["mutants"]]
        result.stale = result.fingerprint != fingerprint(module)
        stored[module] = result
    return stored


def entry_of(result: ModuleResult) -> dict:
    """A module's stored entry: its result, with one row per mutant (the fields of Mutant after job_id)."""
    entry = asdict(result)
    entry.pop("stale")
    # a diff is only needed to show a survivor's edit; an excluded mutant's reason is its kind's (EXCLUDED_OPERATORS)
    entry["mutants"] = [
        [
            m.operator,
            m.occurrence,
            m.line,
            m.column,
            m.definition,
            m.outcome,
            "" if m.outcome in ("excluded", "out-of-scope") else m.reason,
            m.diff if m.outcome == "survived" else "",
        ]
        for m in result.mutants
    ]
    return entry


def store_entry(name: str, result: ModuleResult) -> None:
    """Replace ``result.module``'s entry in ``<name>.json`` as soon as the module is done (under a file lock, so that
    runs of other modules, in this process or another, keep theirs)."""
    path = stored_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".json.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = json.loads(path.read_text()) if path.exists() else {}
        entries[result.module] = entry_of(result)
        entries = {module: entries[module] for module in MODULES if module in entries}
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(entries, separators=(",", ":"), sort_keys=True) + "\n")
        temporary.replace(path)


def run(command: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def make_sandbox(sandbox: Path) -> None:
    """A copy of the repository's files (tracked and untracked-not-ignored): cosmic-ray mutates files in place."""
    if sandbox.exists():
        shutil.rmtree(sandbox)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (sandbox / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, sandbox / name)
    # compiled once here (the tests run with PYTHONDONTWRITEBYTECODE, as cosmic-ray sets it); a mutated module's
    # bytecode is removed before its session, so a mutant is always compiled from its source
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(sandbox / PACKAGE)], check=True)


def test_env(sandbox: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(sandbox), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


ANNOTATION_REASON = "inside a type annotation, which `from __future__ import annotations` leaves unevaluated"


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) (line 1-based, column in characters) of every annotation, when the module never evaluates them."""
    tree = ast.parse(source)
    postponed = any(
        isinstance(node, ast.ImportFrom) and node.module == "__future__" and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )
    if not postponed:
        return []
    lines = source.splitlines()

    def position(line: int, byte_col: int) -> tuple[int, int]:  # ast columns count UTF-8 bytes, parso's characters
        return line, len(lines[line - 1].encode()[:byte_col].decode(errors="ignore"))

    annotations: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            annotations.append(node.returns)
    return [(position(a.lineno, a.col_offset), position(a.end_lineno or a.lineno, a.end_col_offset or 0)) for a in annotations]


def run_module(module: str, tests: list[str], sandbox: Path, workdir: Path, args: argparse.Namespace) -> ModuleResult:
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    # the files the sandbox was copied with, which may differ from the working tree's by now
    result = ModuleResult(module, tests, fingerprint=fingerprint(module, sandbox), sample=args.sample, seed=args.seed)
    result.source = args.source
    module_path = f"{PACKAGE}/{module}"
    env = test_env(sandbox)
    for cached in (sandbox / module_path).parent.glob(f"__pycache__/{Path(module).stem}.*.pyc"):
        cached.unlink()

    test_command = shlex.join([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests])
    session = workdir / f"{slug(module)}.sqlite"
    config = workdir / f"{slug(module)}.toml"

    def write_config(timeout: float) -> None:
        config.write_text(
            "[cosmic-ray]\n"
            f"module-path = {module_path!r}\n"
            f"timeout = {timeout:.1f}\n"
            "excluded-modules = []\n"
            f"test-command = {test_command!r}\n"
            "\n[cosmic-ray.distributor]\nname = 'local'\n"
        )

    write_config(args.timeout or 600.0)
    if session.exists():
        session.unlink()
    run([sys.executable, "-m", "cosmic_ray.cli", "init", str(config), str(session)], sandbox, env)

    source = (sandbox / module_path).read_text()
    annotations = annotation_spans(source)
    by_line = equivalent_lines(module, source)
    covered: Counter[Equivalent] = Counter()

    def mutated_line(mutant: Mutant) -> str:
        mutated = mutate_code(source, get_operator(f"core/{mutant.operator}")(), mutant.occurrence)
        return "" if mutated is None else mutated.splitlines()[mutant.line - 1]

    with use_db(str(session), WorkDB.Mode.open) as db:
        items = sorted(
            db.work_items, key=lambda w: (w.mutations[0].start_pos, w.mutations[0].operator_name, w.mutations[0].occurrence)
        )
        for item in items:
            spec = item.mutations[0]
            mutant = Mutant(
                item.job_id,
                spec.operator_name.removeprefix("core/"),
                spec.occurrence,
                spec.start_pos[0],
                spec.start_pos[1],
                spec.definition_name,
            )
            excluded = next((p for p in EXCLUDED_OPERATORS if re.match(p, spec.operator_name)), None)
            if excluded is not None:
                mutant.outcome, mutant.reason = "excluded", excluded
            elif module in SCOPES and spec.definition_name not in SCOPES[module]:
                mutant.outcome, mutant.reason = "out-of-scope", OUT_OF_SCOPE_REASON
            elif any(start <= tuple(spec.start_pos) and tuple(spec.end_pos) <= end for start, end in annotations):
                mutant.outcome, mutant.reason = "equivalent", ANNOTATION_REASON
            elif (entry := equivalent_entry(by_line, mutant, mutated_line)) is not None:
                mutant.outcome, mutant.reason = "equivalent", entry.reason
                covered[entry] += 1
            result.mutants.append(mutant)
        unused = [entry for entries in by_line.values() for entry in entries if not covered[entry]]
        if unused:
            raise RuntimeError(f"{module}: entries of EQUIVALENT that cover no mutant (stale): {unused}")
        if args.list:
            kinds = Counter(m.operator.split("_")[0] for m in result.mutants if m.outcome == "pending")
            print(
                f"{module}: {result.count('pending')} to run ({result.count('excluded')} of excluded operator kinds, "
                f"{result.count('equivalent')} marked equivalent, {result.count('out-of-scope')} out of scope) "
                f"{dict(kinds)}"
            )
            return result
        candidates = [m for m in result.mutants if m.outcome == "pending"]
        if args.sample is not None and args.sample < len(candidates):
            chosen = {m.job_id for m in random.Random(args.seed).sample(candidates, args.sample)}
            for m in candidates:
                if m.job_id not in chosen:
                    m.outcome = "not-sampled"
        for m in result.mutants:
            if m.outcome != "pending":
                db.set_result(m.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=f"{m.outcome}: {m.reason}"))

    pending = result.count("pending")
    print(
        f"{module}: {len(result.mutants)} mutants, {result.count('excluded')} of excluded operator kinds, "
        f"{result.count('equivalent')} marked equivalent, {result.count('not-sampled')} not sampled, {pending} to run "
        f"against {' '.join(tests)}",
        flush=True,
    )
    if pending == 0:
        return result

    # the unmutated module must pass its tests; their duration sets the per-mutant timeout
    start = time.perf_counter()
    baseline = run(shlex.split(test_command), sandbox, env, check=False)
    result.baseline_s = time.perf_counter() - start
    if baseline.returncode != 0:
        result.error = f"the tests fail on the unmutated module:\n{baseline.stdout[-3000:]}"
        print(result.error, file=sys.stderr)
        return result
    result.timeout_s = args.timeout or max(60.0, 5.0 * result.baseline_s)
    write_config(result.timeout_s)
    print(f"  unmutated tests pass in {result.baseline_s:.1f} s; timeout per mutant {result.timeout_s:.0f} s", flush=True)

    start = time.perf_counter()
    run([sys.executable, "-m", "cosmic_ray.cli", "exec", str(config), str(session)], sandbox, env)
    result.exec_s = time.perf_counter() - start

    by_id = {m.job_id: m for m in result.mutants}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, work_result in db.completed_work_items:
            mutant = by_id[item.job_id]
            if mutant.outcome != "pending":
                continue
            mutant.diff = work_result.diff or ""
            if work_result.worker_outcome != WorkerOutcome.NORMAL:
                mutant.outcome = "incompetent"
                mutant.reason = f"{work_result.worker_outcome}: {(work_result.output or '')[-300:]}"
            elif work_result.test_outcome == "survived":
                mutant.outcome = "survived"
            elif work_result.test_outcome == "killed":
                mutant.outcome = "timeout" if work_result.output == "timeout" else "killed"
            else:
                mutant.outcome = "incompetent"
    score = result.score
    print(
        f"  {module}: tried {result.tried}, killed {result.killed} ({result.count('timeout')} by timeout), survived "
        f"{result.survived}, score {'-' if score is None else f'{100 * score:.1f}%'}, {result.exec_s:.0f} s "
        f"({result.exec_s / max(1, result.tried):.1f} s per mutant)",
        flush=True,
    )
    return result


def edit_of(mutant: Mutant) -> tuple[str, str]:
    """The changed line before and after, from cosmic-ray's diff."""
    removed = [line[1:].strip() for line in mutant.diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in mutant.diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(removed), " / ".join(added)


def code(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"`{text}`" if text else ""


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def score_lower_bound(killed: int, judged: int, confidence: float = 0.95) -> float:
    """
    One-sided Clopper-Pearson lower confidence bound of a module's score from a random sample of its mutants:
    the kill rate p at which ``killed`` or more kills of ``judged`` have probability ``1 - confidence`` (bisection on
    the binomial tail; every kill: ``(1 - confidence) ** (1 / judged)``).
    """
    if killed == 0:
        return 0.0

    def tail(p: float) -> float:  # P(X >= killed), X ~ Binomial(judged, p): increasing in p
        return sum(math.comb(judged, i) * p**i * (1 - p) ** (judged - i) for i in range(killed, judged + 1))

    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if tail(mid) < 1 - confidence else (low, mid)
    return low


# what a mutation run's outcome depends on (the package, the tests, this driver and the test settings): an uncommitted
# change there makes an entry "+ uncommitted changes"; one elsewhere (a benchmark script, a results file) does not
SOURCE_PATHS = ("sb3_pg_extras", "tests", "benchmarks/mutation.py", "pyproject.toml", "setup.cfg")


def git_state() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    # results files (this report's own entries among them) do not change what is tested
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", *SOURCE_PATHS], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def write_report(stored: dict[str, ModuleResult], args: argparse.Namespace, command: str, seconds: float) -> None:
    try:  # the report can be rewritten from stored results without the `mutation` extra installed
        version = importlib.metadata.version("cosmic-ray")
    except importlib.metadata.PackageNotFoundError:
        version = "(not installed)"
    results = [stored[m] for m in MODULES if m in stored and not stored[m].stale]
    stale = [stored[m] for m in MODULES if m in stored and stored[m].stale]
    missing = [m for m in MODULES if m not in stored]
    total = ModuleResult("all", [], [m for r in results for m in r.mutants])
    total.exec_s = sum(r.exec_s for r in results)
    partial = []
    if missing:
        partial.append(f"not run: {', '.join(f'`{m}`' for m in missing)}")
    if stale:
        partial.append(
            f"stale (module or tests changed since): {', '.join(f'`{r.module}`' for r in stale)}, left out of the totals"
        )
    sampled = [r for r in results if r.sample is not None]
    if sampled:
        partial.append(
            "a random sample of mutants in "
            + ", ".join(
                f"`{r.module}` ({r.sample}, seed {r.seed}: score >= "
                f"{percent(score_lower_bound(r.killed, r.killed + r.survived))} with 95% confidence)"
                for r in sampled
            )
            + " (one-sided Clopper-Pearson bound of the kill rate of all its mutants)"
        )

    out: list[str] = [
        f"# Mutation testing of the math modules{' (PARTIAL)' if partial else ''}",
        "",
        f"Generated by `benchmarks/mutation.py` with cosmic-ray {version}; do not edit by hand. `make mutation` "
        f"(`python -m benchmarks.mutation`) runs every module and every mutant; `--modules` reruns some and keeps the "
        f"stored entries of the others (`{args.name}.json`) while their module and test files are unchanged.",
        "",
        f"Last command: `{command}` ({seconds / 60:.1f} min, {args.jobs} jobs, {os.cpu_count()} CPUs, "
        f"{platform.machine()}). Column `run` gives the commit and date each module's entry comes from.",
        "",
    ]
    if partial:
        out += [f"**Partial**: {'; '.join(partial)}.", ""]
    out += [
        "Each module is mutated one edit at a time and only its own tests run against each mutant. Score = killed / "
        "(killed + survived); a mutant whose tests ran past the timeout counts as killed (column `timeout`); "
        "`equivalent` mutants (listed in `EQUIVALENT` in benchmarks/mutation.py, or inside an annotation that is "
        "never evaluated; reasons below) and `incompetent` ones (the mutation could not be applied or run) are not scored. "
        "`mutants` counts those of the kept operator kinds.",
        "",
    ]
    scoped = [r for r in [*results, *stale] if r.module in SCOPES]
    if scoped:
        out += [
            "The algorithm files are mutated in their loss and update code only (`SCOPES` in benchmarks/mutation.py): "
            + "; ".join(
                f"`{r.module}`: {', '.join(f'`{f}`' for f in SCOPES[r.module])} ({r.count('out-of-scope')} mutants "
                "elsewhere in the file not run)"
                for r in scoped
            )
            + ".",
            "",
        ]
    out += [
        "| module | tests | mutants | tried | killed | timeout | survived | incompetent | equivalent | score "
        "| s per mutant | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in [*results, *stale, total]:
        name = "**all**" if r is total else f"`{r.module}`" + (" (stale)" if r.stale else "")
        tests = " ".join(Path(t).name for t in r.tests)
        per = f"{r.exec_s / r.tried:.1f}" if r.tried else "-"
        score = percent(r.score) + (" (tests fail unmutated)" if r.error else "")
        out.append(
            f"| {name} | {tests} | {r.generated} | {r.tried} | {r.killed} | {r.count('timeout')} | {r.survived} "
            f"| {r.count('incompetent')} | {r.count('equivalent')} | {score} | {per} | {r.source} |"
        )
    out += ["", "## Surviving mutants", ""]
    survivors = [(r, m) for r in results for m in r.mutants if m.outcome == "survived"]
    if not survivors:
        out += ["None.", ""]
    else:
        out += [
            "Each is a line a test should pin: make the tests fail on it (or mark it equivalent, with the reason).",
            "",
            "| file:line | function | operator | original | mutant |",
            "|---|---|---|---|---|",
        ]
        for r, m in survivors:
            before, after = edit_of(m)
            out.append(
                f"| `{PACKAGE}/{r.module}:{m.line}` | {m.definition or ''} | {m.operator} #{m.occurrence} "
                f"| {code(before)} | {code(after)} |"
            )
        out.append("")
    out += ["## Equivalent mutants (excluded from the score)", ""]
    equivalent = Counter((r.module, m.line, m.reason) for r in results for m in r.mutants if m.outcome == "equivalent")
    if not equivalent:
        out += ["None marked.", ""]
    else:
        out += ["| file:line | mutants | reason |", "|---|---|---|"]
        out += [f"| `{PACKAGE}/{mod}:{line}` | {n} | {reason} |" for (mod, line, reason), n in sorted(equivalent.items())]
        out.append("")
    incompetent = [(r, m) for r in results for m in r.mutants if m.outcome == "incompetent"]
    if incompetent:
        out += ["## Incompetent mutants (not scored)", "", "| file:line | operator | why |", "|---|---|---|"]
        out += [f"| `{PACKAGE}/{r.module}:{m.line}` | {m.operator} | {code(m.reason[:150])} |" for r, m in incompetent]
        out.append("")
    out += ["## Operator kinds left out of every session", "", "| cosmic-ray operators | why |", "|---|---|"]
    out += [f"| {code(pattern)} | {reason} |" for pattern, reason in EXCLUDED_OPERATORS.items()]
    out.append("")

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.md").write_text("\n".join(out))
    with open(RESULTS / f"{args.name}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "module",
                "tests",
                "mutants",
                "tried",
                "killed",
                "timeout",
                "survived",
                "incompetent",
                "equivalent",
                "not_sampled",
                "score",
                "seconds",
                "seconds_per_mutant",
                "stale",
                "run",
            ]
        )
        for r in [*results, *stale, total]:
            writer.writerow(
                [
                    r.module,
                    " ".join(r.tests),
                    r.generated,
                    r.tried,
                    r.killed,
                    r.count("timeout"),
                    r.survived,
                    r.count("incompetent"),
                    r.count("equivalent"),
                    r.count("not-sampled"),
                    "" if r.score is None else f"{r.score:.4f}",
                    f"{r.exec_s:.1f}",
                    f"{r.exec_s / r.tried:.2f}" if r.tried else "",
                    int(r.stale),
                    r.source,
                ]
            )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--modules",
        nargs="+",
        default=list(MODULES),
        metavar="MODULE",
        help=f"modules relative to {PACKAGE}/ (default: all of {', '.join(MODULES)})",
    )
    parser.add_argument(
        "--sample", type=int, default=None, metavar="N", help="run a random sample of N mutants per module (default: all)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per mutant (default: max(60, 5 x the unmutated tests' duration))"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=ROOT / "build" / "mutation",
        help="sandbox copy of the repository and the cosmic-ray sessions",
    )
    parser.add_argument("--name", default="mutation", help="report name in benchmarks/results/")
    parser.add_argument("--list", action="store_true", help="count the mutants of each module, run nothing")
    parser.add_argument(
        "--report", action="store_true", help="rebuild the report from the stored entries (<name>.json), run nothing"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="modules run in parallel, each in its own sandbox copy (default: the number of CPUs)",
    )
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; known: {', '.join(MODULES)}")
    if args.sample is not None and args.sample < 1:
        parser.error("--sample must be >= 1")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/mutation.py", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    if args.report:
        write_report(load_stored(args.name), args, command, 0.0)
        print(f"report rebuilt from {stored_path(args.name)}: {RESULTS / (args.name + '.md')}")
        return
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    args.source = f"{git_state()}, {datetime.date.today().isoformat()}"  # what the sandboxes are copied from
    jobs = max(1, min(args.jobs, len(args.modules)))
    sandboxes: queue.Queue[Path] = queue.Queue()
    for i in range(jobs):  # one copy per job: cosmic-ray mutates the module file in place
        sandbox = workdir / ("sandbox" if i == 0 else f"sandbox-{i}")
        make_sandbox(sandbox)
        env = test_env(sandbox)
        imported = run([sys.executable, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], sandbox, env).stdout.strip()
        if not Path(imported).resolve().is_relative_to(sandbox):
            raise RuntimeError(f"the tests would import {PACKAGE} from {imported}, not from the sandbox {sandbox}")
        sandboxes.put(sandbox)

    def run_in_a_sandbox(module: str) -> ModuleResult:
        sandbox = sandboxes.get()
        try:
            result = run_module(module, MODULES[module], sandbox, workdir, args)
        finally:
            sandboxes.put(sandbox)
        if not args.list and not result.error:  # a module whose tests fail unmutated keeps its last entry
            store_entry(args.name, result)
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(run_in_a_sandbox, args.modules))
    if args.list:
        return
    write_report(load_stored(args.name), args, command, time.perf_counter() - started)
    total = sum(r.killed for r in results), sum(r.survived for r in results)
    print(
        f"this run: killed {total[0]}, survived {total[1]}, score {percent(total[0] / sum(total) if sum(total) else None)}; "
        f"report in {RESULTS / (args.name + '.md')}"
    )
    for r in results:
        if r.error:
            print(f"{r.module}: not run:\n{r.error}", file=sys.stderr)
    if any(r.error for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
