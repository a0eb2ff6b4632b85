"""The shell and YAML blocks of the docs, which test_docs.py does not run: each parses
(``bash -n``, a YAML parser), and the cluster manifests of docs/sharing.md run as many
shards as they start tasks, each with its own index.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from test_docs import PAGES, ROOT, Block, parse_blocks

SHARING = ROOT / "docs" / "sharing.md"
SHELL_BLOCKS = [block for page in PAGES for block in parse_blocks(page, "bash")]
YAML_BLOCKS = [block for page in PAGES for block in parse_blocks(page, "yaml")]


def shell_syntax_error(code: str, shell: str = "bash") -> str:
    """What ``shell -n`` says of ``code`` (nothing when it parses)."""
    done = subprocess.run([shell, "-n"], input=code, capture_output=True, text=True, check=False)
    return done.stderr if done.returncode else ""


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=[block.label for block in SHELL_BLOCKS])
def test_every_shell_block_parses(block: Block) -> None:
    assert shell_syntax_error(block.code) == ""


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=[block.label for block in YAML_BLOCKS])
def test_every_yaml_block_parses(block: Block) -> None:
    assert list(yaml.safe_load_all(block.code))


def test_the_syntax_check_catches_a_broken_script() -> None:
    assert "syntax error" in shell_syntax_error('if true; then\n  echo "no fi"\n')


def test_the_slurm_array_runs_one_shard_per_task() -> None:
    [script] = [block.code for block in parse_blocks(SHARING, "bash") if "#SBATCH" in block.code]
    first, last = map(int, re.search(r"^#SBATCH --array=(\d+)-(\d+)$", script, re.M).groups())
    [shards] = re.findall(r"^SHARDS=(\d+)", script, re.M)
    assert (first, last + 1) == (0, int(shards))  # indices 0..N-1, as shards count
    assert 'export DOTEVAL_SHARD="${SLURM_ARRAY_TASK_ID}/${SHARDS}"' in script
    assert 'export DOTEVAL_EXPERIMENT="$EXPERIMENT"' in script
    assert script.startswith("#!/bin/bash\n")


def test_the_kubernetes_job_runs_one_shard_per_index() -> None:
    [manifest] = [yaml.safe_load(block.code) for block in parse_blocks(SHARING, "yaml")]
    assert (manifest["apiVersion"], manifest["kind"]) == ("batch/v1", "Job")
    spec = manifest["spec"]
    assert spec["completionMode"] == "Indexed"
    [container] = spec["template"]["spec"]["containers"]
    assert container["command"] == ["sh", "-c"]
    [command] = container["args"]
    assert shell_syntax_error(command, "sh") == ""
    [count] = re.findall(r'DOTEVAL_SHARD="\$JOB_COMPLETION_INDEX/(\d+)"', command)
    assert int(count) == spec["completions"] == spec["parallelism"]
    names = {variable["name"] for variable in container["env"]}
    assert {"DOTEVAL_EXPERIMENT", "DOTEVAL_STORAGE"} <= names
