"""TextGAN-PyTorch's RelGAN on textgan's SeqGAN oracle, scored by textgan's evaluator: an independent implementation
beside ours on the same data, schedule and metrics.

The peer's own classes do the work: ``RelGAN_G`` and ``RelGAN_D`` (its RMC generator and multi-representation CNN),
and the methods of its ``RelGANInstructor`` (``train_gen_epoch`` for MLE, ``adv_train_generator`` /
``adv_train_discriminator`` for one adversarial iteration, ``update_temperature`` for the exp schedule). This script
only replaces the instructor's set-up, which would create its own oracle: the training sentences are the
``OracleDataModule``'s (the same 10,000 sentences a ``textgan-train`` run of the same seed trains on), and each
evaluation scores the peer generator's samples with ``textgan.evaluation.sample_metrics.SampleMetrics``
(NLL_oracle under the SeqGAN oracle, BLEU-n against the training sentences, Self-BLEU-n) and its NLL on our test split
with the peer's own ``NLL.cal_nll``. It writes a run folder that ``textgan-plot-runs`` reads (``summary.json`` with
``pretrain_history`` and ``adversarial_history``) and resumes from its ``checkpoint.pt`` when started again.

The peer's settings are its oracle RelGAN script's (run/run_relgan.py: RSGAN loss, Adam 1e-2 for MLE and 1e-4 for
both adversarial players, 1 generator + 5 discriminator steps, clipping at 5, exp temperature with its horizon fixed
at 5,000 in ``get_fixed_temperature``), at the sizes of ``experiment=relgan_oracle_cpu`` by default: memory 1 x 2 x 32
and a 64-dim discriminator embedding split into 8 representations of 8 dims (``--dis-embed-dim 64 --num-rep 8``:
both projects split the embedding over the representations, as the original does; the paper's 64 / 64 gives
64 representations of 1 dim). A run folder continues only with the settings it was started with (``--iterations``
may grow); other settings are refused, naming them. Needs a checkout of
github.com/williamSYSU/TextGAN-PyTorch (``--peer``); nothing of it is copied here. Example::

    git clone https://github.com/williamSYSU/TextGAN-PyTorch /tmp/TextGAN-PyTorch
    OMP_NUM_THREADS=1 python scripts/peer_relgan.py --peer /tmp/TextGAN-PyTorch --out outputs/peer_relgan/seed123 \\
        --seed 123 --mle-epochs 40 --iterations 1000
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", required=True, help="a TextGAN-PyTorch checkout")
    parser.add_argument("--out", required=True, help="the run folder (resumed when it holds checkpoint.pt)")
    parser.add_argument(
        "--seed", type=int, default=123, help="model seed and oracle-data seed (as textgan-train's seed)"
    )
    parser.add_argument("--shared-data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument(
        "--num-train", type=int, default=10_000, help="oracle training sentences (the benchmark's 10,000)"
    )
    parser.add_argument("--num-test", type=int, default=10_000, help="oracle test sentences, for NLL_gen")
    parser.add_argument("--cache-dir", default=str(ROOT / ".cache" / "oracle"), help="the oracle data's cache")
    parser.add_argument("--mle-epochs", type=int, default=40)
    parser.add_argument("--mle-eval-every", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--bleu-orders", default="2,3,4,5", help="comma-separated; empty: NLL_oracle only")
    parser.add_argument("--beta-max", type=float, default=100.0)
    parser.add_argument("--head-size", type=int, default=32)
    parser.add_argument(
        "--dis-embed-dim", type=int, default=64, help="the discriminator's embedding, split over --num-rep (as ours)"
    )
    parser.add_argument("--num-rep", type=int, default=8, help="representations (relgan_cpu: 8)")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


def load_peer(args: argparse.Namespace):
    """Import the peer's config with its settings applied, then the classes that read it at import time."""
    peer = Path(args.peer).resolve()
    if not (peer / "instructor" / "oracle_data" / "relgan_instructor.py").is_file():
        raise SystemExit(
            f"--peer {peer}: not a TextGAN-PyTorch checkout (no instructor/oracle_data/relgan_instructor.py)"
        )
    sys.path.insert(0, str(peer))
    cfg = importlib.import_module("config")
    settings = dict(
        CUDA=False,
        device=-1,
        run_model="relgan",
        model_type="vanilla",
        loss_type="rsgan",
        temp_adpt="exp",
        temperature=args.beta_max,
        vocab_size=5000,
        max_seq_len=20,
        batch_size=64,
        data_shuffle=False,
        gen_init="truncated_normal",
        dis_init="uniform",
        gen_lr=1e-2,
        gen_adv_lr=1e-4,
        dis_lr=1e-4,
        clip_norm=5.0,
        ADV_g_step=1,
        ADV_d_step=5,
        gen_embed_dim=32,
        gen_hidden_dim=32,
        mem_slots=1,
        num_heads=2,
        head_size=args.head_size,
        dis_embed_dim=args.dis_embed_dim,
        num_rep=args.num_rep,
        ADV_train_epoch=5000,
    )
    for name, value in settings.items():
        setattr(cfg, name, value)
    modules = {
        "RelGAN_G": importlib.import_module("models.RelGAN_G").RelGAN_G,
        "RelGAN_D": importlib.import_module("models.RelGAN_D").RelGAN_D,
        "GenDataIter": importlib.import_module("utils.data_loader").GenDataIter,
        "NLL": importlib.import_module("metrics.nll").NLL,
        "RelGANInstructor": importlib.import_module("instructor.oracle_data.relgan_instructor").RelGANInstructor,
    }
    commit = subprocess.run(
        ["git", "-C", str(peer), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return cfg, modules, settings, commit or "unknown"


def build_instructor(cfg, peer: dict, train_tokens: torch.Tensor):
    """The peer's RelGANInstructor with its models and optimisers (as its __init__ makes them) on our data."""
    instructor = peer["RelGANInstructor"].__new__(peer["RelGANInstructor"])
    instructor.gen = peer["RelGAN_G"](
        cfg.mem_slots,
        cfg.num_heads,
        cfg.head_size,
        cfg.gen_embed_dim,
        cfg.gen_hidden_dim,
        cfg.vocab_size,
        cfg.max_seq_len,
        cfg.padding_idx,
        gpu=False,
    )
    instructor.dis = peer["RelGAN_D"](
        cfg.dis_embed_dim, cfg.max_seq_len, cfg.num_rep, cfg.vocab_size, cfg.padding_idx, gpu=False
    )
    instructor.gen_opt = torch.optim.Adam(instructor.gen.parameters(), lr=cfg.gen_lr)
    instructor.gen_adv_opt = torch.optim.Adam(instructor.gen.parameters(), lr=cfg.gen_adv_lr)
    instructor.dis_opt = torch.optim.Adam(instructor.dis.parameters(), lr=cfg.dis_lr)
    instructor.oracle_data = peer["GenDataIter"](train_tokens)
    instructor.mle_criterion = nn.NLLLoss()
    return instructor


RESUMABLE = ("iterations",)  # settings a continued run may change


def saved_summary_config(out: Path) -> dict:
    """The settings in ``summary.json`` (checkpoints written before the settings were saved in them)."""
    path = out / "summary.json"
    return json.loads(path.read_text()).get("config", {}) if path.is_file() else {}


def changed_settings(saved: dict, current: dict) -> list[str]:
    """``key=saved -> current`` for every setting but ``RESUMABLE`` that differs."""
    keys = sorted((set(saved) | set(current)) - set(RESUMABLE))
    return [f"{key}={saved.get(key)!r} -> {current.get(key)!r}" for key in keys if saved.get(key) != current.get(key)]


def rng_states() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg, peer, settings, commit = load_peer(args)

    from textgan.atomic_files import atomic_write
    from textgan.data.oracle_datamodule import OracleDataModule
    from textgan.evaluation.sample_metrics import SampleMetrics

    bleu_orders = tuple(int(n) for n in args.bleu_orders.split(",") if n.strip())
    data = OracleDataModule(
        oracle_path=str(Path(args.shared_data) / "oracle" / "seqgan_oracle_lstm.npz"),
        cache_dir=args.cache_dir,
        num_train=args.num_train,
        num_test=args.num_test,
        seed=args.seed,
        bleu_orders=bleu_orders,
    )
    data.setup()
    score_samples = SampleMetrics(data)

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    instructor = build_instructor(cfg, peer, data.train_tokens)
    test_loader = peer["GenDataIter"](data.test_tokens).loader

    def evaluate() -> dict:
        started = time.perf_counter()
        state = torch.get_rng_state()  # evaluation draws must not change the training stream
        with torch.no_grad():
            samples = instructor.gen.sample(args.num_samples, 4 * cfg.batch_size)
            metrics = dict(score_samples(samples))
            metrics["nll_gen"] = float(peer["NLL"].cal_nll(instructor.gen, test_loader, nn.NLLLoss(), gpu=False))
        torch.set_rng_state(state)
        metrics["eval_seconds"] = time.perf_counter() - started
        return metrics

    checkpoint_path = out / "checkpoint.pt"
    summary = {
        "config": {
            "implementation": "TextGAN-PyTorch",
            "peer_commit": commit,
            "seed": args.seed,
            "data": "SeqGAN oracle (textgan OracleDataModule)",
            **settings,
            "mle_epochs": args.mle_epochs,
            "iterations": args.iterations,
            "num_samples": args.num_samples,
            "bleu_orders": list(bleu_orders),
        },
        "pretrain_history": [],
        "adversarial_history": [],
    }
    epoch = iteration = 0
    if checkpoint_path.is_file():
        saved = torch.load(checkpoint_path, weights_only=False)
        changed = changed_settings(saved.get("config") or saved_summary_config(out), summary["config"])
        if changed:
            print(f"peer_relgan.py: {out} was started with other settings ({', '.join(changed)}): continue it with "
                  "those, or give another --out", file=sys.stderr)  # fmt: skip
            return 2
        for name in ("gen", "dis", "gen_opt", "gen_adv_opt", "dis_opt"):
            getattr(instructor, name).load_state_dict(saved[name])
        instructor.gen.temperature = saved["temperature"]
        epoch, iteration = saved["epoch"], saved["iteration"]
        summary["pretrain_history"], summary["adversarial_history"] = (
            saved["pretrain_history"],
            saved["adversarial_history"],
        )
        set_rng_states(saved["rng"])
        print(f"resumed at MLE epoch {epoch}, adversarial iteration {iteration}", flush=True)

    def save() -> None:
        state = {
            name: getattr(instructor, name).state_dict() for name in ("gen", "dis", "gen_opt", "gen_adv_opt", "dis_opt")
        }
        state.update(
            config=summary["config"],
            temperature=float(instructor.gen.temperature),
            epoch=epoch,
            iteration=iteration,
            rng=rng_states(),
            pretrain_history=summary["pretrain_history"],
            adversarial_history=summary["adversarial_history"],
        )
        atomic_write(checkpoint_path, lambda tmp: torch.save(state, tmp))
        atomic_write(out / "summary.json", lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=1)))

    def log(stage: str, step: int, metrics: dict) -> None:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        print(f"{time.strftime('%H:%M:%S')} {stage} {step}: {shown}", flush=True)

    while epoch < args.mle_epochs:
        loss = instructor.train_gen_epoch(
            instructor.gen, instructor.oracle_data.loader, instructor.mle_criterion, instructor.gen_opt
        )
        epoch += 1
        if epoch % args.mle_eval_every == 0 or epoch == args.mle_epochs:
            metrics = {"step": epoch, "nll_train": loss, **evaluate()}
            summary["pretrain_history"].append(metrics)
            log("MLE epoch", epoch, metrics)
            save()

    if iteration == 0 and not summary["adversarial_history"]:
        metrics = {"step": 0, "beta": float(instructor.gen.temperature), **evaluate()}
        summary["adversarial_history"].append(metrics)
        log("adversarial iteration", 0, metrics)
        save()
    while iteration < args.iterations:
        g_loss = instructor.adv_train_generator(cfg.ADV_g_step)
        d_loss = instructor.adv_train_discriminator(cfg.ADV_d_step)
        instructor.update_temperature(iteration, cfg.ADV_train_epoch)  # the peer's order: after the iteration
        iteration += 1
        if iteration % args.eval_every == 0 or iteration == args.iterations:
            metrics = {
                "step": iteration,
                "beta": float(instructor.gen.temperature),
                "g_loss": g_loss,
                "d_loss": d_loss,
                **evaluate(),
            }
            summary["adversarial_history"].append(metrics)
            log("adversarial iteration", iteration, metrics)
            save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
