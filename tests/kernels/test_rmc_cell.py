"""The RMC cell's native step (textgan/kernels/rmc_step.py) computes the torch cell's function and gradients."""

import pytest
import torch

from textgan.kernels import parallel, policy
from textgan.kernels import rmc_step as rmc_cell
from textgan.models.rmc import RMCGenerator

needs_native = pytest.mark.skipif(not policy.available(), reason="native kernels off or not built")


def usable(core, memory: torch.Tensor, products: torch.Tensor, projected: torch.Tensor) -> bool:
    """The cell's own dispatch condition (RelationalMemory.cell)."""
    gain = core.blocks[0].qkv_norm.weight
    return rmc_cell.applies(memory, products, projected, gain, core._paper_block, core._backend)
V, T = 31, 6


def make(slots: int = 1, **kwargs) -> RMCGenerator:
    torch.manual_seed(0)
    generator = RMCGenerator(vocab_size=V, max_length=T, embedding_dim=8, head_size=8, num_heads=2, mem_slots=slots,
                             **kwargs)  # fmt: skip
    with torch.no_grad():  # move the layer norms' gains and biases off 1 and 0, so their gradients matter
        for parameter in generator.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    return generator


def mle_gradients(generator: RMCGenerator, tokens: torch.Tensor, native: bool, bf16: bool = False):
    generator.core.native_cell = native
    generator.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = generator.nll(tokens)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in generator.named_parameters()}


def relative_error(got: torch.Tensor, reference: torch.Tensor) -> float:
    return float((got - reference).norm() / reference.norm().clamp_min(1e-30))


@needs_native
@pytest.mark.parametrize("slots", [1, 3])
def test_float32_teacher_forcing_equals_the_torch_cell_with_its_gradients(slots):
    generator, tokens = make(slots), torch.randint(0, V, (5, T))
    assert usable(generator.core, torch.zeros(1, slots, 16), torch.zeros(1), torch.zeros(1))
    native_loss, native = mle_gradients(generator, tokens, native=True)
    torch_loss, reference = mle_gradients(generator, tokens, native=False)
    torch.testing.assert_close(native_loss, torch_loss, rtol=0, atol=2e-6)
    assert native.keys() == reference.keys()
    for name, grad in reference.items():
        assert relative_error(native[name], grad) < 2e-5, name


@needs_native
def test_float32_relaxed_samples_and_their_gradients_equal_the_torch_cell():
    generator = make(2)
    results = []
    for native in (True, False):
        generator.core.native_cell = native
        generator.zero_grad()
        sample = generator.rsample(7, 3.0, generator=torch.Generator().manual_seed(4))
        (sample.relaxed * torch.linspace(-1, 1, V)).sum().backward()
        results.append((sample, {name: p.grad.clone() for name, p in generator.named_parameters()}))
    (native_sample, native), (torch_sample, reference) = results
    assert torch.equal(native_sample.tokens, torch_sample.tokens)
    torch.testing.assert_close(native_sample.relaxed, torch_sample.relaxed, rtol=0, atol=1e-5)
    for name, grad in reference.items():
        assert relative_error(native[name], grad) < 1e-4, name


@needs_native
def test_bf16_autocast_gradients_are_as_close_to_float32_as_the_torch_cells():
    """Under bf16 autocast the native step keeps the attention and gate sums in float32 between products."""
    generator, tokens = make(1), torch.randint(0, V, (16, T))
    _, exact = mle_gradients(generator, tokens, native=False)
    _, native = mle_gradients(generator, tokens, native=True, bf16=True)
    _, torch_bf16 = mle_gradients(generator, tokens, native=False, bf16=True)
    for name, grad in exact.items():
        native_error, torch_error = relative_error(native[name], grad), relative_error(torch_bf16[name], grad)
        assert native_error < 0.05 and native_error < 1.5 * torch_error + 1e-3, (name, native_error, torch_error)


def recorded_native_passes(generator: RMCGenerator, tokens: torch.Tensor, monkeypatch) -> dict:
    """The inputs of the last ``_Attend`` and ``_Update`` call of a teacher-forced pass, detached copies."""
    calls = {}
    for function in (rmc_cell._Attend, rmc_cell._Update):

        def record(*args, _function=function, _apply=function.apply):
            calls[_function] = [arg.detach().clone() if isinstance(arg, torch.Tensor) else arg for arg in args]
            return _apply(*args)

        monkeypatch.setattr(function, "apply", record)
    generator.core.native_cell = True
    with torch.no_grad():
        generator.nll(tokens)
    monkeypatch.undo()
    return calls


def native_pass_results(function, inputs: list, threads: int) -> list[torch.Tensor]:
    """``function``'s output and its inputs' gradients for a fixed output gradient, at ``threads`` threads."""
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        leaves = [x.clone().requires_grad_(x.is_floating_point()) if isinstance(x, torch.Tensor) else x for x in inputs]
        output = function.apply(*leaves)
        wanted = [x for x in leaves if isinstance(x, torch.Tensor) and x.requires_grad]
        grad = torch.randn(output.shape, generator=torch.Generator().manual_seed(5))
        return [output.detach(), *torch.autograd.grad(output, wanted, grad)]
    finally:
        torch.set_num_threads(saved)


@needs_native
def test_the_native_passes_do_not_depend_on_the_thread_count(monkeypatch):
    """The guarantee of the native kernels, on every host: each thread takes a contiguous range of sentences and
    the parameter gradients are summed per sentence in torch, so 1 and 2 threads give the same bits."""
    generator, tokens = make(3), torch.randint(0, V, (2 * rmc_cell.MIN_ROWS + 3, T))
    calls = recorded_native_passes(generator, tokens, monkeypatch)
    assert set(calls) == {rmc_cell._Attend, rmc_cell._Update}
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert parallel.num_parts(tokens.shape[0], rmc_cell.MIN_ROWS) == 2  # two parts at 2 threads
    finally:
        torch.set_num_threads(saved)
    for function, inputs in calls.items():
        two, one = native_pass_results(function, inputs, 2), native_pass_results(function, inputs, 1)
        assert len(two) == len(one) > 2
        for index, (a, b) in enumerate(zip(two, one, strict=True)):
            assert torch.equal(a, b), (function.__name__, index)


@needs_native
def test_model_gradients_at_two_threads_equal_one_thread_to_rounding():
    """The whole model's gradients also pass through torch's own products (MKL / oneDNN GEMMs). Those choose how
    to split a long reduction by the thread count on some hosts (Intel AVX-512 / AMX: the output layer's weight
    gradient, a (V, B*T) x (B*T, H) product, differs in its last bits between 1 and 2 threads), so across thread
    counts the model agrees to float32 rounding, not to the bit; at a fixed thread count it is bitwise (the
    resume tests). A wrong split of the native kernels' rows would give errors of order 1, not 1e-6."""
    generator, tokens = make(1), torch.randint(0, V, (2 * rmc_cell.MIN_ROWS + 3, T))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = mle_gradients(generator, tokens, native=True)
        torch.set_num_threads(1)
        one = mle_gradients(generator, tokens, native=True)
    finally:
        torch.set_num_threads(threads)
    torch.testing.assert_close(two[0], one[0], rtol=1e-6, atol=0)
    for name, grad in one[1].items():
        assert relative_error(two[1][name], grad) < 1e-6, name


def test_other_cell_shapes_and_devices_use_the_torch_cell():
    memory, products = torch.zeros(2, 1, 16), torch.zeros(2, 1, 8)
    assert not usable(make(num_blocks=2).core, memory, products, products)
    generator = make()
    assert not usable(generator.core, memory.double(), products, products)  # float32 memory only
    assert not usable(generator.core, memory, products.half(), products.half())
    assert not usable(generator.core, memory, products.bfloat16(), products)  # one type for both
    generator.core.native_cell = False
    assert not usable(generator.core, memory, products, products)


@needs_native
def test_second_order_gradients_are_those_of_the_reference_functions(monkeypatch):
    """REBAR and RELAX differentiate the generator's gradient (create_graph=True): the native step's backward
    then recomputes its function in torch ops (torch's CPU attention kernel has no second derivative, so the
    torch cell cannot), giving the gradients of gradients of :func:`rmc_cell.attend_reference` and
    :func:`rmc_cell.update_reference`."""
    generator = make(1)

    def second_order() -> list[torch.Tensor]:
        generator.zero_grad()
        sample = generator.rsample(4, 2.0, generator=torch.Generator().manual_seed(3))
        loss = (sample.relaxed * torch.linspace(-1, 1, V)).sum()
        parameters = list(generator.parameters())
        first = torch.autograd.grad(loss, parameters, create_graph=True)
        sum(grad.square().sum() for grad in first).backward()
        return [p.grad.clone() for p in parameters]

    native = second_order()
    monkeypatch.setattr(rmc_cell._Attend, "apply", rmc_cell.attend_reference)
    monkeypatch.setattr(rmc_cell._Update, "apply", rmc_cell.update_reference)
    reference = second_order()
    for native_grad, reference_grad in zip(native, reference, strict=True):
        assert relative_error(native_grad, reference_grad) < 1e-4
    assert sum(float(grad.abs().sum()) for grad in native) > 0
