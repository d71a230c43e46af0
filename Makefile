# Installs use constraints.txt: on these CPU-only machines it pins the local torch CPU build.
PYTHON ?= python
PIP_INSTALL = $(PYTHON) -m pip install --disable-pip-version-check -q -c constraints.txt
# both cores: the default suite (about 1,500 tests) takes about 7 min of CPU time (432 s measured), about 4 min this
# way on 2 idle cores
PYTEST_ARGS ?= -n 2

.PHONY: install main test test-slow lint format type check docs benchmark mutation

install:
	$(PYTHON) -m pip install --disable-pip-version-check -q torch==2.13.0
	$(PIP_INSTALL) -e ".[zoo,tests,box2d,mujoco]"

# README command 1: train REINFORCE and PPO on CartPole-v1 through the zoo, print the comparison
main: install
	$(PYTHON) examples/zoo_compare.py

# README command 2 (and .ci/run): the default test suite (slow learning checks excluded)
test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)

test-slow: install
	$(PYTHON) -m pytest -m slow $(PYTEST_ARGS)

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m codespell_lib  # settings: [codespell] in setup.cfg

format:
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

type:
	$(PYTHON) -m mypy

check: lint type test

# The docs site (docs/conf.py; the `docs` extra: Sphinx, myst-parser, furo), warnings as errors; open
# docs/_build/html/index.html. .ci/run builds it too.
docs:
	$(PIP_INSTALL) -e ".[docs]"
	$(PYTHON) -m sphinx -W --keep-going -b html docs docs/_build/html

# Re-creates two reports (reinforce_cartpole.md, reinforce_variance.md); benchmarks/README.md gives the command of
# every other report in benchmarks/results/.
benchmark: install
	$(PYTHON) -m benchmarks.run --algos reinforce ppo --envs CartPole-v1 --seeds 0 1 2 3 4 \
		--n-timesteps 100000 --eval-freq 10000 --eval-episodes 10 --threshold 475 --reference ppo --name reinforce_cartpole
	$(PYTHON) -m benchmarks.studies.reinforce_variance --seeds 0 1 2 --checkpoints 0 10000 30000 --batches 40

# Mutation testing of the math modules (benchmarks/mutation.py, cosmic-ray from the `mutation` extra): every module
# against its own test files (modules in parallel, --jobs), a score per module, report in benchmarks/results/mutation/mutation.md
# (+ .csv, and .json: the stored entry of each module, kept by runs of other modules). Not part of
# .ci/run. About 1600 mutants, one pytest run each (4 s for common/returns.py on 2 cores; a file that trains agents
# takes longer): several hours for all modules, under an hour for any one. One module, or a bounded run:
#   make mutation MUTATION_ARGS="--modules common/returns.py"
#   make mutation MUTATION_ARGS="--modules common/returns.py --sample 25"
# python -m benchmarks.mutation --list counts the mutants of every module without running anything.
MUTATION_ARGS ?=
mutation: install
	$(PIP_INSTALL) -e ".[mutation]"
	$(PYTHON) -m benchmarks.mutation $(MUTATION_ARGS)
