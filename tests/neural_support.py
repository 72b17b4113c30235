"""Shared by the neural tests (imports torch: only those tests import this module)."""
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models on one thread: the figures match CI's and the other tests keep the second core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
