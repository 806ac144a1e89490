"""``scripts/peer_relgan.py`` drives another project's RelGAN through the classes and instructor methods it imports
from a checkout. The checkout is not available here, so a stand-in with the same names and signatures (tiny models
that learn nothing) plays it: what is tested is the driver's own work, on the real oracle data: the MLE and
adversarial schedule it calls, the evaluations it writes, the run folder ``textgan-plot-runs`` reads, and resume.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from textgan.cli.plot_runs import load_curves

ROOT = Path(__file__).resolve().parents[2]

STAND_IN = {
    "config.py": "padding_idx = 0\nstart_letter = 1\nbatch_size = 64\nCUDA = True\n",
    "models/RelGAN_G.py": """
import torch
from torch import nn
import config as cfg

class RelGAN_G(nn.Module):
    def __init__(self, mem_slots, num_heads, head_size, embedding_dim, hidden_dim, vocab_size, max_seq_len,
                 padding_idx, gpu=False):
        super().__init__()
        assert not gpu and not cfg.CUDA, "the driver must switch CUDA off before building"
        self.vocab_size, self.max_seq_len, self.temperature = vocab_size, max_seq_len, 1.0
        self.logits = nn.Parameter(torch.zeros(vocab_size))

    def init_hidden(self, batch_size=cfg.batch_size):
        return None

    def forward(self, inp, hidden):
        return torch.log_softmax(self.logits, -1).expand(inp.numel(), -1)

    def sample(self, num_samples, batch_size, one_hot=False):
        return torch.multinomial(torch.softmax(self.logits, -1), num_samples * self.max_seq_len, True).view(
            num_samples, self.max_seq_len)
""",
    "models/RelGAN_D.py": """
from torch import nn

class RelGAN_D(nn.Module):
    def __init__(self, embed_dim, max_seq_len, num_rep, vocab_size, padding_idx, gpu=False):
        super().__init__()
        assert embed_dim % num_rep == 0
        self.out = nn.Linear(1, 1)
""",
    "utils/data_loader.py": """
import torch
from torch.utils.data import DataLoader
import config as cfg

class GenDataIter:
    def __init__(self, samples):
        self.batch_size = cfg.batch_size
        rows = [{"input": row, "target": row} for row in samples]
        self.loader = DataLoader(rows, batch_size=self.batch_size, shuffle=False, drop_last=True)
""",
    "metrics/nll.py": """
class NLL:
    @staticmethod
    def cal_nll(model, data_loader, criterion, gpu=False):
        batch = next(iter(data_loader))
        return float(criterion(model(batch["input"], None), batch["target"].view(-1)))
""",
    "instructor/oracle_data/relgan_instructor.py": '''
import config as cfg

class RelGANInstructor:
    """Counts what the driver calls, in the order it calls it."""
    calls = []

    def train_gen_epoch(self, model, data_loader, criterion, optimizer):
        self.calls.append("mle")
        batch = next(iter(data_loader))
        loss = criterion(model(batch["input"], None), batch["target"].view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss)

    def adv_train_generator(self, g_step):
        return float(g_step)

    def adv_train_discriminator(self, d_step):
        return float(d_step)

    def update_temperature(self, i, N):
        self.gen.temperature = cfg.temperature ** (i / N)
''',
}


def stand_in_checkout(folder: Path) -> Path:
    for name, text in STAND_IN.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def drive(peer: Path, out: Path, cache: Path, shared_data: Path, *arguments: str) -> subprocess.CompletedProcess:
    small = ["--num-samples", "32", "--bleu-orders", "", "--mle-epochs", "2", "--mle-eval-every", "1"]
    small += ["--eval-every", "2", "--num-train", "256", "--num-test", "128"]
    command = [sys.executable, str(ROOT / "scripts" / "peer_relgan.py"), "--peer", str(peer), "--out", str(out),
               "--cache-dir", str(cache), "--shared-data", str(shared_data), *small, *arguments]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.mark.shared_data
def test_the_peer_driver_evaluates_on_our_oracle_and_resumes_where_it_stopped(tmp_path, shared_data):
    peer, out, cache = stand_in_checkout(tmp_path / "peer"), tmp_path / "run", tmp_path / "cache"
    first = drive(peer, out, cache, shared_data, "--iterations", "2", "--beta-max", "100")
    assert first.returncode == 0, first.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [row["step"] for row in summary["pretrain_history"]] == [1, 2]
    assert [row["step"] for row in summary["adversarial_history"]] == [0, 2]
    # the peer's exp schedule after iterations 0 and 1: beta = 100 ** (1 / 5000)
    assert summary["adversarial_history"][-1]["beta"] == pytest.approx(100 ** (1 / 5000))
    assert summary["adversarial_history"][-1]["d_loss"] == 5.0  # five discriminator steps per iteration
    # uniform over 5,000 tokens: NLL_gen is log 5000 before any learning, and NLL_oracle is finite and larger
    assert summary["pretrain_history"][0]["nll_gen"] < 8.6
    assert summary["adversarial_history"][0]["nll_oracle"] > summary["adversarial_history"][0]["nll_gen"]
    assert summary["config"]["implementation"] == "TextGAN-PyTorch"

    second = drive(peer, out, cache, shared_data, "--iterations", "4", "--beta-max", "100")
    assert second.returncode == 0, second.stderr
    assert "resumed at MLE epoch 2, adversarial iteration 2" in second.stdout
    curves = load_curves([out], "nll_oracle")  # textgan-plot-runs reads the folder
    assert [step for step, _ in curves["run"]] == [0, 2, 4]
    assert summary["config"]["dis_embed_dim"] == 64 and summary["config"]["num_rep"] == 8  # relgan_cpu's 8 x 8

    # a run continues only with its own settings: another discriminator size is refused, naming it
    written = (out / "checkpoint.pt").stat().st_mtime_ns
    third = drive(peer, out, cache, shared_data, "--iterations", "6", "--beta-max", "100", "--dis-embed-dim", "512")
    assert third.returncode == 2
    assert "started with other settings (dis_embed_dim=64 -> 512)" in third.stderr
    assert (out / "checkpoint.pt").stat().st_mtime_ns == written


def test_the_peer_driver_refuses_a_folder_that_is_not_the_peers_checkout(tmp_path):
    result = drive(tmp_path, tmp_path / "run", tmp_path / "cache", tmp_path)
    assert result.returncode != 0
    assert "not a TextGAN-PyTorch checkout" in result.stderr
