"""The class kotlinc names after a source file, which the run stage starts."""
import pytest

from sandbox.jail import jvm_file_class


@pytest.mark.parametrize(("file_name", "class_name"), [
    ("Main.kt", "Main"), ("test.kt", "Test"), ("my-app.kt", "My_app"), ("2nd.kt", "_2nd"),
    ("lib/util.kt", "Util"), ("a.b.kt", "A_b"), ("_x.kt", "_x"),
])
def test_file_class(file_name, class_name):
    assert jvm_file_class(file_name) == class_name
