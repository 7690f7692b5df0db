"""Every defined language has its sample programs (tests/programs/<language>.toml), the ones
the end-to-end language tests run."""
from sandbox import registry
from tests.support.languages import LANGUAGES, PROGRAMS, samples


def test_every_language_has_sample_programs():
    missing = [lang for lang in LANGUAGES if not (PROGRAMS / f"{lang}.toml").exists()]
    assert not missing, f"no tests/programs/<id>.toml for {missing}"
    for lang in LANGUAGES:
        needed = {"hello", "echo_stdin", "echo_args", "runtime_error", "two_files"}
        if registry().get(lang).compile:
            needed.add("compile_error")
        assert needed <= set(samples(lang)), f"{lang} lacks {needed - set(samples(lang))}"
