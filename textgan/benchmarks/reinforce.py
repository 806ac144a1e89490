"""REINFORCE with SeqGAN's Monte-Carlo rollout rewards: the vectorised rollout against the plain nested loop.

SeqGAN rewards token ``t`` of a sampled sentence with ``Q(b, t) = mean_k D(complete_k(y_b[:t]))``. The usual
implementation (TextGAN-PyTorch's ``ROLLOUT.get_reward``, and SeqGAN's own) loops ``for k in range(K)`` and
``for t in 1..T``: each prefix is teacher-forced through the generator from the start, completed one token per
step for the whole batch, and the ``B`` completed sentences go to the discriminator, ``t = T`` included, so
``K * T`` calls of ``B`` sentences (592 of 64 at COCO size). :func:`plain_rollout` re-implements that algorithm
(written from its description, not copied) as the baseline; it is generous to it: the complete sentences are
scored without a generator pass. :func:`textgan.estimators.rollout.rollout_rewards` instead puts every
(prefix, rollout, sentence) row in one batch, starts each row from the state kept after its prefix, scores the
completions in chunks of ``max_batch`` (identical rows once when ``deduplicate``) and the complete sentences
in one call, not ``K``.

Rows per size (K = 16, batch 64, LSTM generator with embedding and hidden 32, SeqGAN discriminator with
embedding 64):

* ``vectorised rollout reward``: one batch of sampled sentences, SeqGAN's reward (``prob``, discriminator in
  ``eval()`` under ``no_grad``) with the SeqGAN preset's ``max_batch``, ``sample_batch`` and
  ``deduplicate=True``, and again with ``deduplicate=False`` (an untrained generator rarely repeats a
  completion, so deduplication mostly costs the ``unique``);
* ``plain loop (TextGAN-PyTorch style)``: the baseline above, timed once (slow, no warm-up);
  ``speedup_vs_plain`` is plain seconds / this row's seconds;
* ``REINFORCE generator step``: ``ReinforceEstimator.generator_loss`` + backward + Adam step, with
  ``reward="rollout"`` and, for contrast, ``reward="sequence"`` (one discriminator call), each for the two
  rewards of :data:`REWARDS`, built as ``textgan-train`` builds them: the SeqGAN presets' (``prob``, dropout off,
  so identical completions are scored once) and the default (minus the per-sentence generator loss of
  the SeqGAN experiments' ``loss=standard``, dropout on, every completion scored).

Fast rows: fixed seeds, one warm-up, mean of ``repeats`` runs; CUDA is synchronised around each timing.
Needs torch only, so it runs on a bare GPU machine::

    python scripts/bench_reinforce.py --size coco [--json rows.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

from textgan.benchmarks.command_line import device_argument, markdown_table, positive_int
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.estimators.rewards import DiscriminatorReward, evaluation_mode
from textgan.estimators.rollout import rollout_rewards
from textgan.kernels.numerics import flush_denormals
from textgan.losses.gan import StandardGANLoss
from textgan.models.lstm import LSTMGenerator
from textgan.models.seqgan_discriminator import SeqGANDiscriminator

SIZES = {  # (vocabulary, length): SeqGAN's oracle and COCO captions; "debug" for quick checks
    "oracle": (5000, 20),
    "coco": (4683, 37),
    "debug": (500, 8),
}
BATCH, ROLLOUTS = 64, 16
# The REINFORCE rewards of the generator-step rows, as textgan-train configures them (keep in step with the
# configs; tests/benchmarks/test_bench_options.py checks): name -> (ReinforceEstimator options, GAN loss).
# "SeqGAN preset" is conf/experiment_estimator/seqgan_{oracle,coco}_reinforce.yaml; "default" is
# conf/estimator/reinforce.yaml, minus the per-sentence generator loss of the SeqGAN experiments' loss=standard.
REWARDS = {
    "SeqGAN preset": ({"reward_transform": "prob", "discriminator_dropout": False, "reduction": "sum"}, None),
    "default": ({}, StandardGANLoss()),
}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, device: str, repeats: int, warmup: int = 1):
    """Mean seconds of ``fn()`` over ``repeats`` calls after ``warmup`` calls, the last result, peak MiB."""
    for _ in range(warmup):
        fn()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        result = fn()
    _sync(device)
    seconds = (time.perf_counter() - start) / repeats
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else "-"
    return seconds, result, peak


def _models(size: str, device: str) -> tuple[LSTMGenerator, SeqGANDiscriminator]:
    vocab, length = SIZES[size]
    torch.manual_seed(0)
    generator = LSTMGenerator(vocab_size=vocab, max_length=length, embedding_dim=32, hidden_dim=32)
    discriminator = SeqGANDiscriminator(vocab_size=vocab, max_length=length, embedding_dim=64)
    return generator.to(device), discriminator.to(device)


@torch.no_grad()
def plain_rollout(generator: LSTMGenerator, tokens: torch.Tensor, score, num_rollouts: int) -> torch.Tensor:
    """The nested-loop rollout (K x T discriminator calls of B sentences): rewards (B, T).

    For each rollout ``k`` and prefix length ``t < T``: teacher-force the start token and ``y[:, :t]`` through
    the fused ``nn.LSTM`` from the initial state, sample positions ``t .. T - 1`` one step at a time
    (``multinomial`` of the softmax, as TextGAN-PyTorch), score the ``B`` completions; then score the complete
    sentences once per ``k``.
    """
    batch, length = tokens.shape
    start = tokens.new_full((batch, 1), generator.start_token)
    rewards = torch.zeros(num_rollouts, length, batch, device=tokens.device)
    for k in range(num_rollouts):
        for t in range(1, length):
            outputs, state = generator.lstm(generator.embedding(torch.cat([start, tokens[:, :t]], dim=1)))
            logits = generator.output(outputs[:, -1])  # (B, V): predicts position t
            completed = tokens.clone()
            for position in range(t, length):
                token = torch.multinomial(torch.softmax(logits, dim=-1), 1)  # (B, 1)
                completed[:, position] = token[:, 0]
                if position + 1 < length:
                    outputs, state = generator.lstm(generator.embedding(token), state)
                    logits = generator.output(outputs[:, -1])
            rewards[k, t - 1] = score(completed)
        rewards[k, length - 1] = score(tokens)
    return rewards.mean(dim=0).t()


def _benchmark_size(size: str, device: str, rollouts: int, batch: int, repeats: int, plain: bool) -> list[dict]:
    rows: list[dict] = []
    seqgan = ReinforceEstimator(reward="rollout", rollout_num=rollouts, **REWARDS["SeqGAN preset"][0])
    vocab, length = SIZES[size]
    generator, discriminator = _models(size, device)
    torch.manual_seed(1)
    tokens = generator.sample(batch)  # (B, T): the batch whose tokens are rewarded
    common = {"size": size, "device": device, "threads": torch.get_num_threads(), "K": rollouts,
              "batch": batch, "vocab": vocab, "length": length}  # fmt: skip

    def row(measurement: str, reward: str, seconds: float, calls, scored, runs: int, peak) -> dict:
        rows.append({**common, "measurement": measurement, "reward_transform": reward, "repeats": runs,
                     "seconds": seconds, "disc_calls": calls, "sentences_scored": scored, "speedup_vs_plain": "-",
                     "peak_mb": peak})  # fmt: skip
        print(f"  {device} {size} {measurement} [{reward}]: {seconds:.3f} s, {calls} calls", file=sys.stderr)
        return rows[-1]

    def vectorised(deduplicate: bool) -> DiscriminatorReward:
        torch.manual_seed(2)
        score = DiscriminatorReward(discriminator, "prob")
        with evaluation_mode(discriminator):
            rollout_rewards(
                generator, tokens, score, rollouts, max_batch=seqgan.max_batch,
                sample_batch=seqgan.sample_batch, deduplicate=deduplicate,
            )  # fmt: skip
        return score

    fast = []
    for deduplicate in (seqgan.deduplicate, False):
        seconds, score, peak = _timed(lambda d=deduplicate: vectorised(d), device, repeats)
        name = f"vectorised rollout reward (deduplicate={deduplicate}, max_batch={seqgan.max_batch})"
        fast.append(row(name, "prob", seconds, score.calls, score.sentences, repeats, peak))

    if plain:
        torch.manual_seed(3)
        score = DiscriminatorReward(discriminator, "prob")
        with evaluation_mode(discriminator):
            seconds, _, peak = _timed(lambda: plain_rollout(generator, tokens, score, rollouts), device, 1, 0)
        plain_row = row("plain loop (TextGAN-PyTorch style)", "prob", seconds, score.calls, score.sentences, 1, peak)
        plain_row["speedup_vs_plain"] = 1.0
        for fast_row in fast:
            fast_row["speedup_vs_plain"] = seconds / fast_row["seconds"]

    real = torch.randint(0, vocab, (batch, length), device=device)  # only its shape is used
    for reward in ("rollout", "sequence"):
        for name, (options, gan_loss) in REWARDS.items():
            student = copy.deepcopy(generator)  # the steps train their own copy
            estimator = ReinforceEstimator(reward=reward, rollout_num=rollouts, **options)
            optimizer = torch.optim.Adam(student.parameters(), lr=1e-2)

            def step(estimator=estimator, student=student, optimizer=optimizer, gan_loss=gan_loss):
                optimizer.zero_grad(set_to_none=True)
                output = estimator.generator_loss(student, discriminator, real, gan_loss, 0)
                output.loss.backward()
                optimizer.step()
                return output

            torch.manual_seed(4)
            seconds, output, peak = _timed(step, device, repeats)
            calls = int(output.logs["discriminator_calls"])
            label = estimator.reward_transform + (f" (loss={_loss_name(gan_loss)})" if gan_loss is not None else "")
            row(f"REINFORCE generator step (reward={reward}, {name})", label, seconds, calls, "-", repeats, peak)
    return rows


def _loss_name(gan_loss) -> str:
    """``StandardGANLoss()`` -> ``standard``, the name of its ``conf/loss/`` file."""
    return type(gan_loss).__name__.removesuffix("GANLoss").lower()


def benchmark_rollout(
    device: str = "cpu",
    sizes: tuple[str, ...] | list[str] = ("oracle", "coco"),
    *,
    rollouts: int = ROLLOUTS,
    batch: int = BATCH,
    repeats: int = 3,
    plain: bool = True,
) -> list[dict]:
    """Time the rollout reward (vectorised, plain loop) and REINFORCE generator steps: one flat dict per row.

    Columns: size, device, threads, K, batch, vocab, length, measurement, reward_transform (the reward, with
    its GAN loss for ``gan_loss``), repeats, seconds, disc_calls, sentences_scored, speedup_vs_plain (plain
    seconds / seconds), peak_mb (CUDA only).
    """
    return [row for size in sizes for row in _benchmark_size(size, device, rollouts, batch, repeats, plain)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", nargs="+", default=["oracle", "coco"], choices=sorted(SIZES))
    parser.add_argument(
        "--device", type=device_argument, default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda[:N]"
    )
    parser.add_argument("--rollouts", type=positive_int, default=ROLLOUTS)
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--threads", type=positive_int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--no-plain", action="store_true", help="skip the slow plain-loop baseline")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)

    flush_denormals()  # as textgan-train does (textgan/kernels/numerics.py)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rows = benchmark_rollout(
        args.device, tuple(args.size), rollouts=args.rollouts, repeats=args.repeats, plain=not args.no_plain
    )
    print(f"\n### reinforce ({torch.get_num_threads()} threads, torch {torch.__version__})\n")
    print(markdown_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0
