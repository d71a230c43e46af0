"""
MPPI benchmarks (docs/mppi.md, issue 17). Each part writes ``benchmarks/results/studies/mppi_<part>.md`` and
``.csv`` (``defaults``: ``benchmarks/results/defaults/mppi_defaults_<envs>``; ``upright``:
``mppi_upright_k<K>_h<H>``; generated: never edit them by hand), headed by the command that made them. All on one
CPU thread.

    python -m benchmarks.mppi pendulum            # known dynamics, K=1000, H=30, 10 episodes, vs pytorch_mppi
    python -m benchmarks.mppi halfcheetah         # the true simulator, one 1000-step episode per (K, H)
    python -m benchmarks.mppi learned             # learned ensemble vs SB3 SAC on Pendulum-v1, 3000 env steps
    python -m benchmarks.mppi pendulum_sac --episodes 50 --seeds 1000 1001 1002   # zoo entry vs SAC, same starts
    python -m benchmarks.mppi learned_defaults --envs InvertedPendulum-v5 --steps 2000 --episodes 2
    python -m benchmarks.mppi defaults --envs InvertedPendulum-v5 --episodes 1   # MPPI("MlpPolicy", env), no setting
                                                  # (resumes: finished episodes are kept in a .partial.csv)
    python -m benchmarks.mppi entries --envs Hopper-v5 Walker2d-v5 --seeds 1000 1001 1002 --episodes 1  # zoo entries
    python -m benchmarks.mppi entries --envs InvertedPendulum-v5 --seeds 100 --set noise_std=0.2 --tag n02  # a candidate
    python -m benchmarks.mppi upright --seeds 0   # HalfCheetah-v5 planned on a reward that penalizes somersaults

``pendulum`` needs the ``pytorch_mppi`` package (installed for this benchmark only, not a dependency of the
package): ``pip install -c constraints.txt pytorch_mppi``.
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
import yaml

from sb3_pg_extras import MPPI
from sb3_pg_extras.envs import get_env_functions

RESULTS = Path(__file__).resolve().parent / "results"


def folder(part: str) -> Path:
    """Where a part's report goes: ``defaults/`` beside the defaults suite's reports, else ``studies/``."""
    return RESULTS / ("defaults" if part.startswith("defaults") else "studies")


# (observation, state, episode start) -> (action, state): a controller that plans one action per call
Act = Callable[[np.ndarray, Any, bool], tuple[np.ndarray, Any]]


def run_episode(env_id: str, seed: int, act: Act,
                max_steps: int | None = None) -> tuple[float, int, float, dict[str, float]]:  # fmt: skip
    """Return, steps, seconds spent planning in one episode, and for the planar MuJoCo robots (a root joint
    ``rooty``: HalfCheetah, Hopper, Walker2d) the body's path: its largest forward speed (m/s) and its net turns
    about the root at the end of the episode (a running or hopping robot ends near 0, a somersaulting one does not)."""
    env = gym.make(env_id, **({"max_episode_steps": max_steps} if max_steps else {}))
    obs, _ = env.reset(seed=seed)
    total, steps, planning, state, start = 0.0, 0, 0.0, None, True
    root, top_speed = _planar_root(env), 0.0
    done = False
    while not done:
        began = time.perf_counter()
        action, state = act(obs, state, start)
        planning += time.perf_counter() - began
        obs, reward, terminated, truncated, _ = env.step(action)
        total, steps, start, done = total + float(reward), steps + 1, False, terminated or truncated
        if root is not None:
            top_speed = max(top_speed, float(env.unwrapped.data.qvel[root[1]]))  # type: ignore[attr-defined]
        if steps % 100 == 0:  # progress of long episodes (seconds per action of the simulator mode)
            print(f"  {env_id} step {steps}: return {total:.1f}, top speed {top_speed:.1f}, {planning / steps:.2f} s/action",
                  file=sys.stderr, flush=True)  # fmt: skip
    path = {}
    if root is not None:
        turns = float(env.unwrapped.data.qpos[root[0]]) / (2 * np.pi)  # type: ignore[attr-defined]
        path = {"top_speed": top_speed, "root_turns": turns}
    data = getattr(env.unwrapped, "data", None)
    if data is not None:  # MuJoCo's instability warnings in the env's own simulation (not the planner's rollouts)
        import mujoco

        path["env_unstable"] = sum(
            int(data.warning[w].number)
            for w in (mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL, mujoco.mjtWarning.mjWARN_BADQACC)
        )
    return total, steps, planning, path


def _planar_root(env: gym.Env) -> tuple[int, int] | None:
    """(qpos index of the root's rotation, qvel index of its forward slide) of a planar MuJoCo robot, else None."""
    model = getattr(env.unwrapped, "model", None)
    names = [model.joint(i).name for i in range(model.njnt)] if model is not None else []
    if "rooty" not in names or "rootx" not in names:
        return None
    return int(model.joint("rooty").qposadr[0]), int(model.joint("rootx").dofadr[0])


def _simulator_counts(model: MPPI) -> dict[str, int]:
    """In the simulator mode, the planner's sampled rollouts that gained energy beyond their actuators' work
    (``energy_gain_samples``) and those in which MuJoCo's instability check fired and warned (``mujoco_unstable``),
    over the model's life."""
    simulator = getattr(model._backend, "simulator", None)
    if simulator is None:
        return {}
    return {"energy_gain_samples": simulator.n_energy_gain, "mujoco_unstable_samples": simulator.n_mujoco_unstable}


def ours(model: MPPI, deterministic: bool = False) -> Act:
    def act(obs: np.ndarray, state: Any, start: bool) -> tuple[np.ndarray, Any]:
        action, state = model.predict(obs, state, episode_start=np.array([start]), deterministic=deterministic)
        return action, state

    return act


def pytorch_mppi_pendulum(n_samples: int, horizon: int, seed: int) -> Act:
    """pytorch_mppi on the same Pendulum dynamics and rewards as ours: its state is (obs, previous obs), so that its
    running cost (evaluated on the state after each action) is exactly minus the env's reward of that step."""
    from pytorch_mppi import MPPI as TorchMPPI

    functions = get_env_functions("Pendulum-v1")
    assert functions is not None and functions.dynamics is not None
    dynamics, reward = functions.dynamics, functions.reward

    def step(state: th.Tensor, action: th.Tensor) -> th.Tensor:
        obs = state[:, :3]
        return th.cat([dynamics(obs, action), obs], dim=1)

    def cost(state: th.Tensor, action: th.Tensor) -> th.Tensor:
        return -reward(state[:, 3:], action, state[:, :3])

    th.manual_seed(seed)
    # the same K, H, lambda and noise: our noise_std 0.5 in [-1, 1] units is a torque std of 1.0
    controller = TorchMPPI(step, cost, 6, th.tensor([[1.0]]), num_samples=n_samples, horizon=horizon, lambda_=1.0,
                           u_min=th.tensor([-2.0]), u_max=th.tensor([2.0]))  # fmt: skip

    def act(obs: np.ndarray, state: Any, start: bool) -> tuple[np.ndarray, Any]:
        if start:
            controller.reset()
        full = th.as_tensor(np.concatenate([obs, obs]), dtype=th.float32)
        return controller.command(full).numpy(), None

    return act


def write(part: str, rows: list[dict[str, Any]], summary: list[str]) -> None:
    out = folder(part)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"mppi_{part}.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    command = "python -m benchmarks.mppi " + " ".join(sys.argv[1:])
    lines = [f"# MPPI: {part}", "", "Generated by `python -m benchmarks.mppi` (do not edit by hand). Command:", "",
             f"    {command}", "", f"Machine: {platform.processor() or platform.machine()}, torch threads: "
             f"{th.get_num_threads()}, Python {platform.python_version()}, torch {th.__version__}.", "",
             *summary, "", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]  # fmt: skip
    lines += ["| " + " | ".join(_fmt(v) for v in row.values()) + " |" for row in rows]
    (out / f"mppi_{part}.md").write_text("\n".join(lines) + "\n")


def _number(text: str) -> Any:
    """A CSV field back as the int, float or string it was written from."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _append_row(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _summary(rows: list[dict[str, Any]], who: str) -> tuple[float, float, float]:
    mine = [r for r in rows if r["controller"] == who]
    returns = np.array([r["return"] for r in mine])
    per_second = sum(r["steps"] for r in mine) / sum(r["planning_s"] for r in mine)
    return float(returns.mean()), float(returns.std()), per_second


def pendulum(args: argparse.Namespace) -> None:
    rows = []
    for seed in range(args.episodes):
        controllers = {
            "sb3_pg_extras.MPPI": ours(MPPI("MlpPolicy", "Pendulum-v1", n_samples=args.k, horizon=args.h, seed=seed)),
            "pytorch_mppi": pytorch_mppi_pendulum(args.k, args.h, seed),
        }
        for name, act in controllers.items():
            total, steps, planning, _ = run_episode("Pendulum-v1", seed, act)
            rows.append({"controller": name, "seed": seed, "return": total, "steps": steps, "planning_s": planning})
            print(rows[-1], flush=True)
    summary = [f"Pendulum-v1, known dynamics, K = {args.k}, H = {args.h}, {args.episodes} episodes (seeds 0..)."]
    for name in ("sb3_pg_extras.MPPI", "pytorch_mppi"):
        mean, std, per_second = _summary(rows, name)
        summary.append(f"- {name}: return {mean:.1f} +/- {std:.1f}, {per_second:.1f} planned actions per second")
    ratio = _summary(rows, "sb3_pg_extras.MPPI")[2] / _summary(rows, "pytorch_mppi")[2]
    summary.append(f"- speed ratio (ours / pytorch_mppi, same run): {ratio:.2f}")
    write("pendulum", rows, summary)


def halfcheetah(args: argparse.Namespace) -> None:
    """One episode per (K, H); another grid than the default 100x20 200x30 writes ``mppi_halfcheetah_<grid>``."""
    rows = []
    grid = ["100x20", "200x30"] if args.grid is None else args.grid
    for k, h in [tuple(map(int, g.split("x"))) for g in grid]:
        model = MPPI("MlpPolicy", "HalfCheetah-v5", dynamics_mode="simulator", n_samples=k, horizon=h, seed=0)
        total, steps, planning, path = run_episode("HalfCheetah-v5", 0, ours(model), args.steps)
        rows.append({"K": k, "H": h, "return": total, "steps": steps, "s_per_action": planning / steps, **path})
        print(rows[-1], flush=True)
    summary = [f"HalfCheetah-v5, the true simulator (mujoco.rollout, one thread), one {args.steps}-step episode "
               "(seed 0) per (K, H); other settings are MPPI's defaults."]  # fmt: skip
    write("halfcheetah" if grid == ["100x20", "200x30"] else "halfcheetah_" + "_".join(grid), rows, summary)


def simulator(args: argparse.Namespace) -> None:
    """The true simulator on the other supported MuJoCo envs: one episode per env, (K, H) and seed (default 0), with
    extra MPPI settings from ``--set name=value`` (then the report is ``mppi_simulator_<tag>``)."""
    rows = []
    grid = ((100, 20),) if args.grid is None else [tuple(map(int, g.split("x"))) for g in args.grid]
    settings = {name: yaml.safe_load(value) for name, value in (item.split("=", 1) for item in args.set or [])}
    extra = f", except {settings}" if settings else ""
    for env_id in args.envs:
        for k, h in grid:
            for seed in args.seeds or [0]:
                model = MPPI("MlpPolicy", env_id, dynamics_mode="simulator", n_samples=k, horizon=h, seed=seed,
                             **settings)  # type: ignore[arg-type]  # fmt: skip
                total, steps, planning, path = run_episode(env_id, seed, ours(model), args.steps)
                rows.append({"env": env_id, "K": k, "H": h, "seed": seed, "return": total, "steps": steps,
                             "s_per_action": planning / steps, **path})  # fmt: skip
                print(rows[-1], flush=True)
    summary = [f"The true simulator (mujoco.rollout, one thread), one episode of at most {args.steps} steps per env, "
               "(K, H) and seed (the env seeded with the seed); an episode ends early when the robot falls (the env's "
               f"termination). Other settings are MPPI's defaults{extra}."]  # fmt: skip
    write("simulator" + (f"_{args.tag}" if args.tag else ""), rows, summary)


def defaults(args: argparse.Namespace) -> None:
    """``MPPI("MlpPolicy", env, seed=seed)`` with nothing else, evaluated as the defaults suite evaluates
    (benchmarks/defaults.py): deterministic actions, eval env seeded ``seed + 10_000``, episodes of the env's own
    length. On the MuJoCo envs the default mode is the simulator, which learns nothing from env steps, so the
    return after any training budget is the return of these episodes; this part measures it without the hours of
    ``learn()`` that the suite would spend first."""
    head = (f"`MPPI(\"MlpPolicy\", env, seed=seed)` with every default (K = 1000, H = 30, dynamics mode `auto`), seeds "
            f"{args.seeds}, {args.episodes} deterministic episode(s) per seed on an env seeded `seed + 10000 + episode`, "
            "as the defaults suite evaluates. Nothing is trained first: in the simulator and known-dynamics modes MPPI "
            "learns nothing from env steps.")  # fmt: skip
    _controller_episodes("defaults", args, lambda env_id, seed: MPPI("MlpPolicy", env_id, seed=seed), head)


def entries(args: argparse.Namespace) -> None:
    """MPPI built from its zoo entry (``zoo_hyperparams/mppi.yml``, as the comparison builds it), evaluated as
    ``defaults`` evaluates: the controllers of the simulator-mode entries (Hopper-v5, Walker2d-v5, ...), which learn
    nothing from env steps."""
    from benchmarks import run as harness

    overrides = {name: yaml.safe_load(value) for name, value in (item.split("=", 1) for item in args.set or [])}

    def build(env_id: str, seed: int) -> MPPI:
        model, _, _ = harness.build("mppi", env_id, seed, overrides=overrides)
        return model

    changed = f", with {overrides} set over it (a candidate entry)" if overrides else ""
    head = (f"MPPI with its zoo entry (`zoo_hyperparams/mppi.yml`{changed}; the settings are listed per row), "
            f"seeds {args.seeds}, "
            f"{args.episodes} deterministic episode(s) per seed on an env seeded `seed + 10000 + episode`. Nothing is "
            "trained first: in the simulator mode MPPI learns nothing from env steps.")  # fmt: skip
    _controller_episodes("entries", args, build, head)


def _controller_episodes(part: str, args: argparse.Namespace, build: Callable[[str, int], MPPI], head: str) -> None:
    """Episodes of a controller that learns nothing, one row per finished episode kept in a .partial.csv (a stopped
    run resumes), then the report."""
    name = part + "_" + "_".join(env_id.split("-")[0].lower() for env_id in args.envs)
    name += f"_{args.tag}" if args.tag else ""
    partial = folder(name) / f"mppi_{name}.partial.csv"
    rows: list[dict[str, Any]] = []
    if partial.exists():
        with open(partial, newline="") as file:
            rows = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(file)]
    done = {(r["env"], r["seed"], r["episode"]) for r in rows}
    for env_id in args.envs:
        for seed in args.seeds:
            model = None
            for episode in range(args.episodes):
                if (env_id, seed, episode) in done:
                    continue
                model = model or build(env_id, seed)
                total, steps, planning, path = run_episode(env_id, seed + 10_000 + episode,
                                                           ours(model, deterministic=True))  # fmt: skip
                settings = f"K={model.n_samples} H={model.horizon} noise_std={model.noise_std} " \
                           f"smoothing={model.smoothing} termination_cost={model.resolved_termination_cost}" + \
                           (f" control_cost={model.control_cost}" if model.control_cost else "") + \
                           (" nominal_sample" if model.nominal_sample else "")  # fmt: skip
                rows.append({"env": env_id, "seed": seed, "episode": episode, "dynamics": model.resolved_dynamics,
                             "settings": settings, "return": total, "steps": steps, "s_per_action": planning / steps,
                             **path, "diverged_samples": model.planner.n_diverged,
                             "all_diverged": model.planner.n_all_diverged, **_simulator_counts(model)})  # fmt: skip
                print(rows[-1], flush=True)
                _append_row(partial, rows[-1])
    rows = [r for r in rows if r["env"] in args.envs and r["seed"] in args.seeds and r["episode"] < args.episodes]
    summary = [head]
    for env_id in args.envs:
        env_rows = [r for r in rows if r["env"] == env_id]
        returns = np.array([r["return"] for r in env_rows])
        up = sum(r["steps"] == gym.spec(env_id).max_episode_steps for r in env_rows)
        summary.append(f"- {env_id}: {returns.mean():.1f} +/- {returns.std():.1f} over {len(returns)} episodes; "
                       f"{up} of {len(env_rows)} ran their full length")  # fmt: skip
    write(name, rows, summary)
    partial.unlink()


UPRIGHT_WEIGHT = 2.0  # reward lost per radian of root rotation away from level


def upright_running_reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """HalfCheetah-v5's reward written on observations (the root's forward speed at the end of the step, index 8,
    for the env's mean speed over the step; minus 0.1 x the squared controls), minus ``UPRIGHT_WEIGHT`` per radian of
    the root's rotation (index 1; it accumulates over turns, so a somersault keeps costing after it)."""
    return next_obs[:, 8] - 0.1 * action.square().sum(-1) - UPRIGHT_WEIGHT * next_obs[:, 1].abs()


def upright(args: argparse.Namespace) -> None:
    """MPPI with every default but ``reward_fn=upright_running_reward`` on HalfCheetah-v5, evaluated as ``defaults``:
    the env's own return, the top speed and the net root turns show whether the cheetah runs or somersaults."""
    rows = []
    for seed in args.seeds:
        model = MPPI("MlpPolicy", "HalfCheetah-v5", n_samples=args.k, horizon=args.h, reward_fn=upright_running_reward,
                     seed=seed)  # fmt: skip
        total, steps, planning, path = run_episode("HalfCheetah-v5", seed + 10_000, ours(model, deterministic=True))
        rows.append({"env": "HalfCheetah-v5", "seed": seed, "K": args.k, "H": args.h, "return": total, "steps": steps,
                     "s_per_action": planning / steps, **path})  # fmt: skip
        print(rows[-1], flush=True)
    returns = np.array([r["return"] for r in rows])
    summary = [f"HalfCheetah-v5, the true simulator, K = {args.k}, H = {args.h}, planning on "
               f"`upright_running_reward` (benchmarks/mppi.py: the env's forward speed and control cost minus "
               f"{UPRIGHT_WEIGHT} per radian of root rotation) instead of the env's reward; seeds {args.seeds}, one "
               "deterministic episode each on an env seeded `seed + 10000`. `return` is the env's own return.",
               f"- HalfCheetah-v5: {returns.mean():.1f} +/- {returns.std():.1f} over {len(returns)} episodes"]  # fmt: skip
    write(f"upright_k{args.k}_h{args.h}", rows, summary)


def learned(args: argparse.Namespace) -> None:
    from stable_baselines3 import SAC
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    rows = []
    for seed in args.seeds:
        for name in ("mppi", "sac"):
            if name == "mppi":
                model: Any = MPPI("MlpPolicy", "Pendulum-v1", dynamics_mode="learned", n_samples=args.k,
                                  horizon=args.h, learning_starts=200, model_train_freq=200, seed=seed)  # fmt: skip
            else:
                model = SAC("MlpPolicy", "Pendulum-v1", seed=seed)
            began = time.perf_counter()
            model.learn(args.steps)
            seconds = time.perf_counter() - began
            mean, std = evaluate_policy(model, make_vec_env("Pendulum-v1", seed=100 + seed), n_eval_episodes=args.episodes)
            rows.append({"algo": name, "seed": seed, "steps": args.steps, "return": float(mean), "std": float(std),
                         "train_s": seconds})  # fmt: skip
            print(rows[-1], flush=True)
    summary = [f"Pendulum-v1, {args.steps} env steps, {args.episodes} evaluation episodes per seed. MPPI: learned "
               f"ensemble (defaults), K = {args.k}, H = {args.h}, 200 random steps, refit every 200 steps. SAC: SB3 "
               "defaults."]  # fmt: skip
    for name in ("mppi", "sac"):
        returns = np.array([r["return"] for r in rows if r["algo"] == name])
        summary.append(f"- {name}: {returns.mean():.1f} +/- {returns.std():.1f} over {len(returns)} seeds")
    write("learned", rows, summary)


def learned_defaults(args: argparse.Namespace) -> None:
    """``MPPI("MlpPolicy", env, dynamics_mode="learned", seed=seed)`` with every other default (1000 uniform random
    steps, then planning on the ensemble refitted every 250 steps), ``learn(--steps)``, then ``--episodes``
    deterministic episodes on an env seeded ``seed + 10000 + episode`` (as ``defaults`` evaluates); ``--set`` changes
    settings and ``--tag`` suffixes the report's name."""
    settings = {name: yaml.safe_load(value) for name, value in (item.split("=", 1) for item in args.set or [])}
    rows = []
    for env_id in args.envs:
        for seed in args.seeds:
            model = MPPI("MlpPolicy", env_id, dynamics_mode="learned", seed=seed, **settings)
            began = time.perf_counter()
            model.learn(args.steps)
            train_s = time.perf_counter() - began
            for episode in range(args.episodes):
                total, steps, planning, _ = run_episode(env_id, seed + 10_000 + episode, ours(model, deterministic=True))
                rows.append({"env": env_id, "seed": seed, "episode": episode, "env_steps": args.steps, "return": total,
                             "steps": steps, "train_s": train_s, "s_per_action": planning / steps})  # fmt: skip
                print(rows[-1], flush=True)
    summary = [f"`MPPI(\"MlpPolicy\", env, dynamics_mode=\"learned\", seed=seed)` with every other default (K = 1000, "
               f"H = 30, 1000 uniform random steps, the ensemble refitted every 250 steps), trained for {args.steps} env "
               f"steps, seeds {args.seeds}, then {args.episodes} deterministic episode(s) per seed on an env seeded "
               "`seed + 10000 + episode`."]  # fmt: skip
    if settings:
        summary[0] += f" Settings other than the defaults: {settings}."
    for env_id in args.envs:
        returns = np.array([r["return"] for r in rows if r["env"] == env_id])
        summary.append(f"- {env_id}: {returns.mean():.1f} +/- {returns.std(ddof=1) if len(returns) > 1 else 0.0:.1f} "
                       f"over {len(returns)} episodes (min {returns.min():.1f})")  # fmt: skip
    name = "learned_defaults_" + "_".join(env_id.split("-")[0].lower() for env_id in args.envs)
    write(name + (f"_{args.tag}" if args.tag else ""), rows, summary)


PAIRED_STARTS = 200_000  # env seeds of the paired comparison's starts: no run or tuning ever used them


def pendulum_sac(args: argparse.Namespace) -> None:
    """MPPI's Pendulum-v1 zoo entry (the known dynamics; nothing to train) against SB3 SAC trained here with
    rl_zoo3's Pendulum-v1 entry (its 20k steps; seeds ``--seeds``), both deterministic, on the same ``--episodes``
    starts (env seeded ``200000 + i``). Pendulum's return depends mostly on how far from upright an episode starts
    (about -120 from most starts, -330 to -380 from near the bottom), so two means over different starts differ by
    the luck of the draw (a 50-episode mean has a standard error of about 12); the per-start difference does not,
    and its bootstrap CI says whether either controller is better."""
    from benchmarks import run as harness

    starts = [PAIRED_STARTS + i for i in range(args.episodes)]
    mppi, _, _ = harness.build("mppi", "Pendulum-v1", args.seeds[0])
    rows = []
    for start in starts:
        total, steps, planning, _ = run_episode("Pendulum-v1", start, ours(mppi, deterministic=True))
        rows.append({"controller": "mppi", "seed": args.seeds[0], "start": start, "return": total, "steps": steps,
                     "s_per_action": planning / steps})  # fmt: skip
    for seed in args.seeds:
        sac, budget, _ = harness.build("sac", "Pendulum-v1", seed)
        sac.learn(budget)

        def act(obs: np.ndarray, state: Any, start: bool, model: Any = sac) -> tuple[np.ndarray, Any]:
            return model.predict(obs, deterministic=True)[0], None

        for start in starts:
            total, steps, planning, _ = run_episode("Pendulum-v1", start, act)
            rows.append({"controller": "sac", "seed": seed, "start": start, "return": total, "steps": steps,
                         "s_per_action": planning / steps})  # fmt: skip
        print(f"  sac seed {seed}: {np.mean([r['return'] for r in rows[-len(starts) :]]):.1f}", flush=True)
    ms = 1e3 * np.mean([r["s_per_action"] for r in rows if r["controller"] == "mppi"])
    mine = np.array([r["return"] for r in rows if r["controller"] == "mppi"])
    rng = np.random.default_rng(0)
    summary = [f"Pendulum-v1, {args.episodes} starts (env seeds {starts[0]}-{starts[-1]}), deterministic actions. "
               f"MPPI: its zoo entry (known dynamics, K = 1000, H = 30, seed {args.seeds[0]}). SAC: SB3 SAC with "
               f"rl_zoo3's Pendulum-v1 entry, trained here for its 20k steps, seeds {args.seeds}. Differences are "
               "per start (MPPI minus SAC), with a 95% bootstrap CI over starts (10,000 resamples).",
               f"- MPPI: {mine.mean():.1f} +/- {mine.std(ddof=1):.1f} (standard error "
               f"{mine.std(ddof=1) / np.sqrt(len(mine)):.1f}), {ms:.0f} ms per action"]  # fmt: skip
    for seed in args.seeds:
        theirs = np.array([r["return"] for r in rows if r["controller"] == "sac" and r["seed"] == seed])
        diff = mine - theirs
        means = diff[rng.integers(0, len(diff), (10_000, len(diff)))].mean(1)
        low, high = np.percentile(means, [2.5, 97.5])
        summary.append(f"- SAC seed {seed}: {theirs.mean():.1f} +/- {theirs.std(ddof=1):.1f}; MPPI minus SAC per start "
                       f"{diff.mean():+.1f}, 95% CI [{low:+.1f}, {high:+.1f}]")  # fmt: skip
    write("pendulum_sac", rows, summary)


def main() -> None:
    th.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "part",
        choices=(
            "pendulum",
            "pendulum_sac",
            "halfcheetah",
            "simulator",
            "learned",
            "learned_defaults",
            "defaults",
            "entries",
            "upright",
        ),
    )
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--h", type=int, default=30)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument(
        "--steps", type=int, default=None, help="episode length (halfcheetah, 1000) or env steps (learned, 3000)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (simulator: 0)")
    parser.add_argument(
        "--set",
        nargs="+",
        help="extra MPPI settings as name=value, values read as YAML (simulator, learned_defaults; entries: over the entry)",
    )
    parser.add_argument("--tag", default="", help="suffix of the simulator, learned_defaults or entries report's name")
    parser.add_argument("--grid", nargs="+", help="(K, H) pairs as KxH, e.g. 100x20 200x30 (halfcheetah, simulator)")
    parser.add_argument("--envs", nargs="+", default=["Hopper-v5", "Walker2d-v5"], help="envs (simulator, defaults)")
    args = parser.parse_args()
    if args.seeds is None and args.part != "simulator":
        args.seeds = [0, 1, 2]
    if args.steps is None:
        args.steps = 3000 if args.part == "learned" else 1000
    parts = {"pendulum": pendulum, "halfcheetah": halfcheetah, "simulator": simulator, "learned": learned}
    parts |= {"defaults": defaults, "entries": entries, "upright": upright, "pendulum_sac": pendulum_sac}
    parts |= {"learned_defaults": learned_defaults}
    parts[args.part](args)


if __name__ == "__main__":
    main()
