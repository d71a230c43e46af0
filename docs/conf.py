"""Sphinx configuration of the sb3-pg-extras docs site (``make docs``).

The pages are the Markdown files of this folder, read by myst-parser; each algorithm page generates its "Parameters"
section from the class docstring with autodoc.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # document the checkout, not whatever version is installed

from sb3_pg_extras.version import __version__  # noqa: E402

project = "sb3-pg-extras"
author = "sb3-pg-extras contributors"
copyright = "sb3-pg-extras contributors"
version = release = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "README.md"]

# myst: anchors for "#section" links, and ":::" / "$...$" where pages use them
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# autodoc: the class docstring (SB3's ":param x:" list) under the signature, which shows every default
autoclass_content = "class"
autodoc_class_signature = "mixed"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_preserve_defaults = True
napoleon_google_docstring = False

html_theme = "furo"
html_title = f"sb3-pg-extras {release}"


class RepositoryFileLinks(SphinxTransform):
    """Links from a page to Markdown files of the repository outside docs/ (reports, notes, READMEs).

    The pages are also read on the repository's web view, where a relative link such as
    ``../benchmarks/results/compare/compare.md`` opens the file; myst would take it for a missing page of the site.
    Such a link becomes a download of the file (which must exist, so a broken link still fails the build).
    """

    default_priority = 100

    def apply(self, **kwargs: object) -> None:
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("refdomain") != "doc" or node.get("reftype") != "myst":
                continue
            target = str(node["reftarget"])
            if target in self.env.found_docs:
                continue
            path = Path(target if Path(target).is_absolute() else Path(self.env.srcdir) / target).with_suffix(".md")
            if not path.is_file() or not path.resolve().is_relative_to(ROOT):
                continue  # left to myst, which reports it
            page_dir = (Path(self.env.srcdir) / node["refdoc"]).parent
            download = addnodes.download_reference(
                refdomain=None,
                reftype="myst",
                refexplicit=node.get("refexplicit"),
                refdoc=node["refdoc"],
                reftarget=os.path.relpath(path, page_dir),
            )
            download.source, download.line = node.source, node.line
            download += node.children
            node.replace_self(download)


class EnvFunctionsTable(SphinxDirective):
    """``env-functions-table``: the registry of known env functions (``sb3_pg_extras.envs``), read at build time."""

    def run(self) -> list[nodes.Node]:
        from sb3_pg_extras.envs import ENV_FUNCTIONS
        from sb3_pg_extras.envs.simulator import SIMULATOR_SPECS

        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("*", "\\*")

        rows = [
            "| env id | reward | termination | dynamics (MPPI `known`) | simulator (MPPI) | note |",
            "|---|---|---|---|---|---|",
        ]
        for env_id in sorted(set(ENV_FUNCTIONS) | set(SIMULATOR_SPECS)):
            functions = ENV_FUNCTIONS.get(env_id)
            if functions is None:
                rows.append(f"| `{env_id}` | - | - | - | yes | |")
                continue
            reward = "exact" if functions.exact_reward else f"approximate (max error {functions.reward_atol:g})"
            termination = "exact" if functions.exact_termination else "approximate"
            dynamics = "yes" if functions.dynamics is not None else "-"
            simulator = "yes" if env_id in SIMULATOR_SPECS else "-"
            rows.append(f"| `{env_id}` | {reward} | {termination} | {dynamics} | {simulator} | {cell(functions.note)} |")
        container = nodes.container()
        self.state.nested_parse(StringList(rows, source="env-functions-table"), self.content_offset, container)
        return container.children


def setup(app: Sphinx) -> None:
    app.add_transform(RepositoryFileLinks)
    app.add_directive("env-functions-table", EnvFunctionsTable)
