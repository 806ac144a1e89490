"""LeakGAN's generator: the leaked feature of a prefix, the goal sums, O_t w_t, teacher forcing against the
free-running loop, what takes gradients, and a generator file that samples without the discriminator."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from textgan.models.io import load_generator, save_generator
from textgan.models.leakgan import LeakGANGenerator
from textgan.models.leakgan_goals import window_sums

VOCAB, LENGTH = 12, 7
EXTRACTOR = {
    "_target_": "textgan.models.seqgan_discriminator.SeqGANDiscriminator",
    "embedding_dim": 6,
    "filter_sizes": [1, 2, 3],
    "num_filters": [3, 4, 5],
}


def small(step_size: int = 3, seed: int = 0) -> LeakGANGenerator:
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LeakGANGenerator(
            VOCAB, LENGTH, EXTRACTOR, embedding_dim=5, hidden_dim=6, goal_size=3, step_size=step_size
        )


def test_the_feature_size_is_the_extractors():
    assert small().feature_size == 3 + 4 + 5


def test_a_prefix_feature_is_the_extractors_feature_of_the_prefix_padded_with_zero_embeddings():
    generator = small()
    tokens = torch.randint(VOCAB, (2, LENGTH))
    features = generator.prefix_features(tokens)  # (2, T + 1, F)
    extractor = generator.feature_extractor.eval()
    for length in (0, 3, LENGTH):
        embedded = extractor.embed(tokens).clone()
        embedded[:, length:] = 0.0
        expected = extractor.embedded_features(embedded)
        torch.testing.assert_close(features[:, length], expected)
    torch.testing.assert_close(features[:, LENGTH], extractor.sentence_features(tokens))  # f_T: the sentence


def test_goal_sums_cover_the_last_c_goals_including_the_current_one():
    goals = torch.arange(1.0, 6.0).view(1, 5, 1)  # g_t = t + 1
    sums = window_sums(goals, step_size=3)[0, :, 0]
    assert sums.tolist() == [1.0, 1 + 2, 1 + 2 + 3, 2 + 3 + 4, 3 + 4 + 5]


def test_the_logits_are_O_t_times_w_t():
    generator = small()
    hidden, goal_sums = torch.randn(4, 6), torch.randn(4, generator.feature_size)
    weights = goal_sums @ generator.goal_projection.weight.t()  # w_t = W_psi sum g, (4, k)
    # O_t = reshape(W_O h + b_O, (V, k)): the output maps' weights, laid out per (vocabulary entry, goal unit)
    w_o = generator.output.weight.view(VOCAB, 6, 3)  # [v, j, k]
    o_t = torch.einsum("vjk,bj->bvk", w_o, hidden) + generator.output_bias.weight  # (4, V, k)
    expected = torch.einsum("bvk,bk->bv", o_t, weights)
    torch.testing.assert_close(generator._logits(hidden, goal_sums), expected)


def test_teacher_forcing_gives_the_free_running_loops_logits():
    generator = small()
    tokens = generator.sample(3, LENGTH)
    columns = iter(tokens.unbind(dim=1))
    replayed, logits, _ = generator.unroll(3, LENGTH, lambda _: next(columns), keep_logits=True)
    assert torch.equal(replayed, tokens)
    torch.testing.assert_close(generator(tokens), logits, atol=1e-5, rtol=1e-5)


def test_the_worker_loss_leaves_the_manager_and_the_extractor_without_gradient():
    generator = small()
    tokens = torch.randint(VOCAB, (3, LENGTH))
    generator.nll(tokens).backward()
    assert all(p.grad is None for p in generator.manager_parameters())
    assert all(p.grad is None for p in generator.feature_extractor.parameters())
    assert all(p.grad is not None for p in generator.worker_parameters())


def test_mle_pretraining_trains_the_manager_by_the_goals_cosine_and_logs_the_worker_nll():
    generator = small()
    tokens = torch.randint(VOCAB, (3, LENGTH))
    loss, nll = generator.mle_loss(tokens)
    run = generator.teacher_forced(tokens)
    starts = [0, 3, 6]
    ends = [3, 6, 7]
    cosine = F.cosine_similarity(run.features[:, ends] - run.features[:, starts], run.goals[:, starts], dim=-1)
    torch.testing.assert_close(nll, generator.nll(tokens).detach())
    torch.testing.assert_close(loss, nll - cosine.mean())
    loss.backward()
    assert all(p.grad is not None for p in generator.manager_parameters())


def test_a_generator_file_rebuilds_the_feature_extractor_and_samples_alike(tmp_path):
    generator = small()
    sizes = {"embedding_dim": 5, "hidden_dim": 6, "goal_size": 3, "step_size": 3}
    build = {"_target_": "textgan.models.leakgan.LeakGANGenerator", "vocab_size": VOCAB, "max_length": LENGTH,
             "feature_extractor": EXTRACTOR, **sizes}  # fmt: skip
    save_generator(tmp_path / "generator.pt", generator, build)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded, _ = load_generator(tmp_path / "generator.pt")
    torch.manual_seed(5)
    expected = generator.sample(4, LENGTH)
    torch.manual_seed(5)
    assert torch.equal(loaded.sample(4, LENGTH), expected)


def test_sentences_longer_than_the_extractor_are_refused():
    with pytest.raises(ValueError, match="max_length=7"):
        small().prefix_features(torch.zeros(1, LENGTH + 1, dtype=torch.long))
