"""validate_config: every preset composes and passes; a value of the wrong type or out of its range is refused
with one line that names the key, the value and what is allowed, before anything is built."""

import dataclasses
import inspect
import re

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra_compose import BASELINES, ESTIMATORS, EXPERIMENTS, LOGGERS, LOSSES, TRAINERS
from omegaconf import OmegaConf

from textgan.config_ranges import number
from textgan.estimators import Estimator
from textgan.losses.gan import GANLoss
from textgan.train import CONF_DIR
from textgan.training import settings
from textgan.training.group_choices import check_group_choices
from textgan.training.validation import FOREIGN_RANGES, ConfigError, check_machine, validate_config


def composed(tmp_path, *overrides: str, debug: bool = True) -> dict:
    """The composed, resolved config as plain containers (what the run validates), at debug size or not."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                *(["debug=default"] if debug else []),
                f"paths.output_dir={tmp_path / 'run'}",  # ${hydra:runtime.output_dir} resolves only in a run
                *overrides,
            ],
        )
    return OmegaConf.to_container(cfg, resolve=True)


def refusal(config: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    return str(caught.value)


# ---- every preset passes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("debug", [True, False], ids=["debug", "full"])
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_preset_with_every_estimator_validates(tmp_path, experiment, estimator, debug):
    config = composed(tmp_path, f"experiment={experiment}", f"estimator={estimator}", debug=debug)
    assert config["estimator"]["_target_"]  # composed for real, not an empty dict
    validate_config(config)


@pytest.mark.parametrize(
    "overrides",
    [("estimator=reinforce", f"estimator/baseline={b}") for b in BASELINES]
    + [(f"logger={name}",) for name in LOGGERS]
    + [(f"loss={name}",) for name in LOSSES]
    + [(f"trainer={name}",) for name in TRAINERS]
    + [("data=coco",), ("data=emnlp_news",), ("data=corpus", "data.dir=/some/dataset")]
    + [("experiment=seqgan_oracle", "discriminator=relgan"), ("experiment=seqgan_oracle", "generator=rmc")]
    + [("generator=rmc_textgan_pytorch",), ("generator=rmc_textgan_pytorch", "generator.shared_mlp=false")]
    + [
        ("discriminator=relgan_textgan_pytorch",),
        ("discriminator=relgan_textgan_pytorch", "discriminator.tied_highway=false"),
    ],
    ids=lambda overrides: " ".join(overrides),
)
def test_every_group_choice_validates(tmp_path, overrides):
    for debug in (True, False):  # debug=default keeps a data= choice of the command line and shrinks it
        validate_config(composed(tmp_path, *overrides, debug=debug))


@pytest.mark.parametrize(
    "overrides",
    [
        ("pretrain.epochs=0", "adversarial.steps=0", "diagnostics.every=0"),  # the lower ends are allowed
        ("adversarial.module.grad_clip=null", "pretrain.grad_clip=0"),  # no clipping
        ("adversarial.module.grad_clip=5",),  # an int where a float is wanted
        ("discriminator.dropout=0",),
        ("discriminator.dropout=1",),
        ("trainer.precision=16",),
        ("trainer.precision=bf16-mixed",),
        ("trainer.precision='32'",),
        ("trainer.devices=auto", "trainer.accelerator=auto"),
        ("trainer.deterministic=warn",),
        ("seed=0", "matmul_precision=medium", "on_nonfinite=skip"),
        ("estimator=reinforce", "estimator.rollout_update_rate=0.8", "estimator.reward_autocast=bfloat16"),
        ("estimator=gst", "estimator.schedule.beta_max=0.5", "estimator.schedule.adapt=no"),
        ("estimator=reinmax", "estimator.schedule.beta_max=1"),
        ("estimator.schedule.horizon=null",),  # train.py fills in the run's adversarial steps
        ("data=corpus", "data.dir=corpus", "data.max_length=auto"),
        ("+data.bleu_orders=[]",),  # the oracle's NLL_oracle only
    ],
    ids=lambda overrides: " ".join(overrides),
)
def test_values_at_the_edges_of_their_ranges_are_allowed(tmp_path, overrides):
    validate_config(composed(tmp_path, *overrides))


# ---- bad values are refused, naming key, value and what is allowed ------------------------------------------------
BAD = [
    # (overrides, key, the value as repr, words of what is allowed)
    (("pretrain.epochs=abc",), "pretrain.epochs", "'abc'", "an integer >= 0"),
    (("pretrain.epochs=1.5",), "pretrain.epochs", "1.5", "an integer >= 0"),
    (("pretrain.epochs=true",), "pretrain.epochs", "True", "an integer >= 0"),
    (("adversarial.steps=-1",), "adversarial.steps", "-1", "an integer >= 0"),
    (("pretrain.eval_every=0",), "pretrain.eval_every", "0", "an integer >= 1"),
    (("adversarial.checkpoint_every=0",), "adversarial.checkpoint_every", "0", "an integer >= 1"),
    (("pretrain.grad_clip=-1",), "pretrain.grad_clip", "-1", "null or a number >= 0"),
    (("trainer.precision=fp8",), "trainer.precision", "'fp8'", "'bf16-mixed'"),
    (("trainer.precision=8",), "trainer.precision", "8", "'32-true'"),
    (("trainer.accelerator=tpu2",), "trainer.accelerator", "'tpu2'", "'cpu'"),
    (("trainer.devices=0",), "trainer.devices", "0", "'auto'"),
    (("trainer.log_every_n_steps=-1",), "trainer.log_every_n_steps", "-1", "an integer >= 0"),
    (("trainer.deterministic=sometimes",), "trainer.deterministic", "'sometimes'", "'warn'"),  # Trainer's annotation
    (("data.batch_size=0",), "data.batch_size", "0", "an integer >= 1"),
    (("data.max_length=1",), "data.max_length", "1", "an integer >= 2"),
    (("pretrain.module.optimizer.lr=0",), "pretrain.module.optimizer.lr", "0", "a number > 0"),
    (
        ("adversarial.module.generator_optimizer.lr=-1e-4",),
        "adversarial.module.generator_optimizer.lr",
        "-0.0001",
        "a number > 0",
    ),  # fmt: skip
    (("estimator=rebar", "estimator.optimizer.lr=0.0"), "estimator.optimizer.lr", "0.0", "a number > 0"),
    (
        ("adversarial.module.discriminator_optimizer.betas=[0.9,1.0]",),
        "adversarial.module.discriminator_optimizer.betas",
        "[0.9, 1.0]",
        "a list of 2",
    ),  # fmt: skip
    (("discriminator.dropout=1.5",), "discriminator.dropout", "1.5", "a number in [0, 1]"),
    (("estimator.feedback=soft",), "estimator.feedback", "'soft'", "'relaxed'"),
    (
        ("experiment=gsgan_oracle", "estimator.straight_through=true"),
        "estimator.straight_through",
        "True",
        "false with estimator.feedback=relaxed",
    ),  # fmt: skip
    (
        ("estimator=reinforce", "estimator.rollout_update_rate=1.5"),
        "estimator.rollout_update_rate",
        "1.5",
        "null or a number in [0, 1)",
    ),  # fmt: skip
    (
        ("estimator=reinforce", "estimator/baseline=moving_average", "estimator.baseline.decay=1.0"),
        "estimator.baseline.decay",
        "1.0",
        "a number in [0, 1)",
    ),  # fmt: skip
    (
        ("estimator=reinforce", "estimator/baseline=leave_one_out", "estimator.baseline.group_size=1"),
        "estimator.baseline.group_size",
        "1",
        "null or an integer >= 2",
    ),  # fmt: skip
    (("estimator=reinforce", "estimator.reward=token"), "estimator.reward", "'token'", "'rollout'"),
    (
        ("estimator=reinforce", "estimator.reward_transform=sigmoid"),
        "estimator.reward_transform",
        "'sigmoid'",
        "'log_prob'",
    ),  # fmt: skip
    (("estimator=reinforce", "estimator.reduction=mean"), "estimator.reduction", "'mean'", "'sequence_mean'"),
    (("estimator=reinforce", "estimator.rollout_num=0"), "estimator.rollout_num", "0", "an integer >= 1"),
    (
        ("estimator=gumbel_rao", "estimator.num_gumbel_samples=0"),
        "estimator.num_gumbel_samples",
        "0",
        "an integer >= 1",
    ),  # fmt: skip
    (("estimator.schedule.adapt=cubic",), "estimator.schedule.adapt", "'cubic'", "'sigmoid'"),
    (("estimator.schedule.beta_max=0",), "estimator.schedule.beta_max", "0", "a number > 0"),
    (("estimator.schedule.beta_max=0.5",), "estimator.schedule.beta_max", "0.5", "a number >= 1 with adapt='exp'"),
    (("estimator=reinmax", "estimator.schedule.beta_max=2"), "estimator.schedule.beta_max", "2", "a number <= 1"),
    (("estimator.schedule.horizon=1",), "estimator.schedule.horizon", "1", "null or an integer >= 2"),
    (("estimator._target_=torch.nn.Linear",), "estimator._target_", "'torch.nn.Linear'", "gumbel_rao, gumbel_softmax"),
    (
        ("loss._target_=textgan.losses.gan.NoSuchLoss",),
        "loss._target_",
        "'textgan.losses.gan.NoSuchLoss'",
        "rsgan, standard",
    ),  # fmt: skip
    (("loss=wgan_gp", "loss.gp_weight=-1"), "loss.gp_weight", "-1", "a number >= 0"),
    (("evaluation.num_samples=0",), "evaluation.num_samples", "0", "an integer >= 1"),
    (("diagnostics.every=-1",), "diagnostics.every", "-1", "an integer >= 0"),
    (("seed=-3",), "seed", "-3", "an integer in [0, 4294967295]"),
    (("matmul_precision=fast",), "matmul_precision", "'fast'", "'highest', 'high', 'medium'"),
    (("bf16_products=fast",), "bf16_products", "'fast'", "'auto', 'native', 'emulated'"),
    (("optimized_metric=nll_oracle",), "optimized_metric", "'nll_oracle'", "starting with adversarial/eval/"),
    (("threads=0",), "threads", "0", "'auto' or an integer >= 1"),
    (("on_nonfinite=halt",), "on_nonfinite", "'halt'", "'stop', 'skip'"),
    (("cpu_heap=keep",), "cpu_heap", "'keep'", "'reuse', 'release'"),
    (("flush_denormal=maybe",), "flush_denormal", "'maybe'", "true or false"),  # RunSettings' annotation
    (("estimator.straight_through=yes",), "estimator.straight_through", "'yes'", "true or false"),  # constructor's
    (("+adversarial.module.release_memory=1",), "adversarial.module.release_memory", "1", "true or false"),
    (("adversarial.module.generator_steps=0",), "adversarial.module.generator_steps", "0", "an integer >= 1"),
    (
        ("adversarial.module.discriminator_steps=-1",),
        "adversarial.module.discriminator_steps",
        "-1",
        "an integer >= 0",
    ),  # fmt: skip
    (
        ("adversarial.module.discriminator_pretrain_steps=2",),
        "adversarial.module.discriminator_epochs",
        "0",
        "an integer >= 1 when adversarial.module.discriminator_pretrain_steps > 0",
    ),  # fmt: skip
    (("discriminator.num_filters=[8,8]",), "discriminator.num_filters", "[8, 8]", "a list of 4"),
    (("generator.num_heads=0",), "generator.num_heads", "0", "an integer >= 1"),
    (("logger=wandb", "logger.wandb.offline=maybe"), "logger.wandb.offline", "'maybe'", "true or false"),
    (("logger.csv.flush_logs_every_n_steps=0",), "logger.csv.flush_logs_every_n_steps", "0", "an integer >= 1"),
    (("data=corpus",), "data.dir", "'???'", "mandatory"),
    (("data=coco", "data.tokenizer=sentencepiece"), "data.tokenizer", "'sentencepiece'", "'byte_bpe'"),
    (("data=coco", "data.vocab_size=4"), "data.vocab_size", "4", "an integer > 4"),
    (("data=coco", "data.bleu_orders=[0,2]"), "data.bleu_orders", "[0, 2]", "each an integer >= 1"),
    (("data=coco", "data.lowercase=no"), "data.lowercase", "'no'", "true or false"),
    (("+data.self_bleu_samples=1",), "data.self_bleu_samples", "1", "null or an integer >= 2"),  # the oracle's
    (("discriminator.num_rep=3",), "discriminator.num_rep", "3", "a divisor of discriminator.embedding_dim=8"),
    (
        ("estimator._target_=no_such_module.MyEstimator",),
        "estimator._target_",
        "'no_such_module.MyEstimator'",
        "is its folder on PYTHONPATH?",
    ),  # fmt: skip
]


@pytest.mark.parametrize("overrides, key, value, allowed", BAD, ids=[" ".join(case[0]) for case in BAD])
def test_a_bad_value_is_refused_in_one_line_naming_key_value_and_what_is_allowed(
    tmp_path, overrides, key, value, allowed
):
    debug = not any(o.startswith("data=") for o in overrides)
    message = refusal(composed(tmp_path, *overrides, debug=debug))
    assert "\n" not in message
    assert message.startswith("config: ")
    assert f"{key}={value} is not allowed: " in message, message
    assert allowed in message.split(f"{key}={value} is not allowed: ", 1)[1].split("; ")[0], message


def test_every_violation_is_named_on_one_line_in_walk_order(tmp_path):
    config = composed(tmp_path, "trainer.precision=fp8", "pretrain.epochs=abc", "adversarial.steps=-1")
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    assert [v.split("=")[0] for v in caught.value.violations] == [
        "pretrain.epochs",
        "adversarial.steps",
        "trainer.precision",
    ]
    assert str(caught.value) == "config: " + "; ".join(caught.value.violations)
    assert "\n" not in str(caught.value)


def test_a_refused_config_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match=r"^config: adversarial\.steps=-1 is not allowed: an integer >= 0$"):
        validate_config(composed(tmp_path, "adversarial.steps=-1"))


def test_a_section_that_is_not_a_mapping_is_named(tmp_path):
    config = composed(tmp_path)
    config["pretrain"] = 5
    assert "pretrain=5 is not allowed" in refusal(config)


def test_a_target_that_does_not_import_is_named(tmp_path):
    config = composed(tmp_path)
    config["pretrain"]["module"]["_target_"] = "textgan.training.mle.NoSuchModule"
    assert "pretrain.module._target_='textgan.training.mle.NoSuchModule' is not allowed" in refusal(config)


class UnresolvableLoss(GANLoss):
    """A target whose annotations do not all resolve: those that do are still checked, the rest skipped."""

    def __init__(self, weight: "NoSuchType" = None, scale: int = 1) -> None:  # noqa: F821
        super().__init__()


def test_an_annotation_that_does_not_resolve_skips_only_that_parameter(tmp_path):
    config = composed(tmp_path)
    config["loss"] = {"_target_": f"{__name__}.UnresolvableLoss", "weight": "anything", "scale": 2}
    validate_config(config)
    config["loss"]["scale"] = "2"
    assert "loss.scale='2' is not allowed: an integer" in refusal(config)


# ---- a trainer this machine cannot run ------------------------------------------------------------------------
@pytest.fixture
def cuda_gpus(monkeypatch):
    """``cuda_gpus(n)``: this machine has n CUDA GPUs and no MPS device, whatever it really has."""
    from lightning.pytorch.accelerators import MPSAccelerator

    monkeypatch.setattr(MPSAccelerator, "is_available", staticmethod(lambda: False))
    return lambda n: monkeypatch.setattr(torch.cuda, "device_count", lambda: n)


@pytest.mark.parametrize(
    "overrides",
    [("trainer=gpu",), ("trainer=ddp_gpu",), ("trainer=gpu", "trainer.devices=2"),
     ("trainer=gpu", "trainer.devices=[0,1]"), ("trainer=gpu", "trainer.devices='0,1'"),
     ("trainer=gpu", "trainer.devices='2'"), ("trainer.accelerator=cuda",), ("trainer=ddp_cpu", "trainer.devices=8"),
     ("trainer.accelerator=auto",)],
    ids=" ".join,
)  # fmt: skip
def test_a_trainer_this_machine_has_passes(tmp_path, cuda_gpus, overrides):
    cuda_gpus(2)
    check_machine(composed(tmp_path, *overrides))


@pytest.mark.parametrize(
    "gpus, overrides, violation",
    [(0, ("trainer=gpu",), "trainer.accelerator='gpu' is not allowed: an accelerator this machine has, and it has "
                           "no GPU (no CUDA or MPS device): use trainer=cpu"),
     (0, ("trainer=ddp_gpu",), "trainer.accelerator='gpu' is not allowed"),
     (0, ("trainer.accelerator=cuda",), "trainer.accelerator='cuda' is not allowed: an accelerator this machine has, "
                                        "and it has no CUDA GPU"),
     (1, ("trainer=gpu", "trainer.devices=2"), "trainer.devices=2 is not allowed: at most 1: this machine has 1 "
                                               "CUDA GPU"),
     (2, ("trainer=gpu", "trainer.devices='4'"), "trainer.devices='4' is not allowed: at most 2: this machine has 2 "
                                                 "CUDA GPUs"),
     (2, ("trainer=gpu", "trainer.devices=[0,2]"), "trainer.devices=[0, 2] is not allowed: device ids below 2"),
     (2, ("trainer=gpu", "trainer.devices='1,2'"), "trainer.devices='1,2' is not allowed: device ids below 2")],
)  # fmt: skip
def test_a_trainer_this_machine_cannot_run_is_refused_naming_what_it_has(tmp_path, cuda_gpus, gpus, overrides,
                                                                         violation):  # fmt: skip
    cuda_gpus(gpus)
    config = composed(tmp_path, *overrides)
    validate_config(config)  # a config that is right on some machine
    with pytest.raises(ConfigError) as caught:
        check_machine(config)
    assert str(caught.value).startswith(f"config: {violation}") and "\n" not in str(caught.value)


# ---- a choice conf/ does not have ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "arguments, named, closest",
    [(["estimator=gumbel_softmx"], "estimator='gumbel_softmx'", "gumbel_softmax"),
     (["debug=default", "experiment=relgan_coc"], "experiment='relgan_coc'", "relgan_coco"),
     (["-m", "loss=hinge,lsgn", "seed=1,2"], "loss='lsgn'", "lsgan"),  # each choice of a sweep
     (["--cfg", "job", "+estimator/baseline=moving_averge"], "estimator/baseline='moving_averge'", "moving_average"),
     (["trainer=tpu"], "trainer='tpu'", None)],
)  # fmt: skip
def test_an_unknown_choice_is_refused_naming_group_value_closest_and_every_choice(arguments, named, closest):
    with pytest.raises(ConfigError) as caught:
        check_group_choices(arguments)
    message = str(caught.value)
    group = named.split("=")[0]
    choices = ", ".join(sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml")))
    assert message.startswith(f"config: {named} is not allowed: a choice of conf/{group}/ ({choices})"), message
    assert (f"did you mean {closest}?" in message) == (closest is not None)


@pytest.mark.parametrize(
    "arguments",
    [["estimator=gumbel_softmax", "estimator/baseline=none", "debug=default", "debug=null", "~experiment"],
     ["-m", "estimator=gst,reinmax", "experiment=glob(relgan_*)", "seed=range(3)"],
     ["hydra/launcher=joblib", "data=corpus", "data.dir=x", "+pretrain.epoch=3"],  # hydra/'s choices are plugins'
     ["--config-dir", "/elsewhere", "estimator=mine"], ["--version"], ["estimator=[unclosed"]],
    ids=" ".join,
)  # fmt: skip
def test_known_choices_sweeps_keys_and_what_hydra_decides_pass(arguments):
    check_group_choices(arguments)


def test_a_choice_of_a_folder_added_to_the_search_path_passes_and_a_typo_names_every_folder(tmp_path):
    (tmp_path / "estimator").mkdir()
    (tmp_path / "estimator" / "mine.yaml").write_text("_target_: my_estimator.MyEstimator\n")
    for added in ([f"hydra.searchpath=[file://{tmp_path}]"], ["--config-dir", str(tmp_path)], ["-cd", str(tmp_path)]):
        check_group_choices(["debug=default", "estimator=mine", *added])
        check_group_choices(["-m", "estimator=gst,mine", *added])
        with pytest.raises(ConfigError) as caught:
            check_group_choices(["estimator=mnie", *added])
        choices = sorted([*(path.stem for path in (CONF_DIR / "estimator").glob("*.yaml")), "mine"])
        assert str(caught.value) == (f"config: estimator='mnie' is not allowed: a choice of conf/estimator/ or "
                                     f"{tmp_path}/estimator/ ({', '.join(choices)}); did you mean mine?")  # fmt: skip


# ---- a class of one's own module states its own ranges -----------------------------------------------------------
class ScaledStraightThrough(Estimator):
    """An estimator outside ``textgan.estimators``: its declarations are all that validates it."""

    config_ranges = {"scale": number(0, above=True)}

    @classmethod
    def config_relations(cls, arguments):
        if arguments["hard"] and arguments["scale"] > 10:
            yield "scale", "a number <= 10 with {hard}=true"

    def __init__(self, scale: float = 1.0, hard: bool = False) -> None:
        super().__init__()


def test_an_estimator_of_ones_own_module_is_checked_by_its_own_declarations(tmp_path):
    config = composed(tmp_path)
    config["estimator"] = {"_target_": f"{__name__}.ScaledStraightThrough", "scale": 20.0}
    validate_config(config)  # hard=false by default
    config["estimator"]["scale"] = 0
    assert refusal(config) == "config: estimator.scale=0 is not allowed: a number > 0"
    config["estimator"].update(scale=20.0, hard=True)
    assert refusal(config) == "config: estimator.scale=20.0 is not allowed: a number <= 10 with estimator.hard=true"
    config["estimator"]["hard"] = "yes"
    assert refusal(config) == "config: estimator.hard='yes' is not allowed: true or false"  # the annotation


def test_a_target_that_does_not_import_says_why():
    config = {"estimator": {"_target_": "no_such_module.MyEstimator"}}
    assert refusal(config).endswith("and no module 'no_such_module' is importable (is its folder on PYTHONPATH?)")
    config = {"loss": {"_target_": "textgan.losses.gan.NoSuchLoss"}}
    assert refusal(config).endswith("and textgan.losses.gan has no 'NoSuchLoss'")


def test_a_relation_sees_the_constructors_defaults(tmp_path):
    config = composed(tmp_path, "adversarial.module.discriminator_pretrain_steps=2")
    del config["adversarial"]["module"]["discriminator_epochs"]  # AdversarialModule's default: 0
    assert refusal(config).startswith("config: adversarial.module.discriminator_epochs=0 is not allowed: ")


# ---- the declarations are honest with the code ------------------------------------------------------------------
def _conf_classes() -> set[type]:
    """Every class a file of conf/ builds, lightning.Trainer included."""
    targets = {settings.TRAINER_TARGET}
    for path in CONF_DIR.rglob("*.yaml"):
        targets |= set(re.findall(r"^\s*_target_:\s*(\S+)", path.read_text(), flags=re.MULTILINE))
    return {obj for obj in map(settings._target, targets) if inspect.isclass(obj)}


def _arguments(cls: type) -> set[str]:
    if dataclasses.is_dataclass(cls):
        return {field.name for field in dataclasses.fields(cls)}
    return set(inspect.signature(cls).parameters)


def test_every_declared_range_names_an_argument_of_its_class():
    classes = {base for cls in _conf_classes() for base in cls.__mro__ if base.__module__.startswith("textgan.")}
    declaring = [cls for cls in classes | {settings.RunSettings, *settings.SECTIONS.values()}
                 if "config_ranges" in vars(cls)]  # fmt: skip
    stale = [f"{cls.__name__}.{key}" for cls in declaring for key in set(vars(cls)["config_ranges"]) - _arguments(cls)]
    assert stale == []
    assert len(declaring) >= 20  # estimators, schedule, baselines, models, data, modules, loss, settings


def test_every_foreign_range_names_an_argument_of_a_class_that_conf_builds():
    for base, rules in FOREIGN_RANGES.items():
        arguments = set().union(*(_arguments(cls) for cls in _conf_classes() if issubclass(cls, base)))
        assert set(rules) <= arguments, base
