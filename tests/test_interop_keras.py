"""Keras model configs read without TensorFlow: the VGG16 and ResNet50 fixtures
(tests/reference/keras_*.json, written by tests/reference/make_keras_fixtures.py from
keras.applications' architecture and layer names) against the counts Keras documents
(keras.io/api/applications: VGG16 138,357,544; ResNet50 25,636,712 Total params, which counts the
batch-norm moving statistics), and small configs for each layer type and padding rule."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from convcalc.interop import keras_model
from convcalc.network.walk import walk

REFERENCE = Path(__file__).parent / "reference"


def test_vgg16_total_params(cli):
    result = cli("arch", str(REFERENCE / "keras_vgg16.json"), "--json", "--as", "keras")
    assert result.code == 0, result.err
    data = result.json()
    assert data["totals"]["params"] == 138_357_544
    assert data["output"] == [1000]
    assert any("Total params 138,357,544" in note for note in data["notes"])


def test_resnet50_total_params_count_moving_statistics(cli):
    result = cli("arch", str(REFERENCE / "keras_resnet50.json"), "--json", "--as", "keras")
    assert result.code == 0, result.err
    data = result.json()
    assert data["totals"]["params"] == 25_636_712 - 53_120  # trainable: moving statistics are not parameters
    assert any("Total params 25,636,712" in note for note in data["notes"])
    names = [row["name"] for row in data["layers"]]
    assert ("conv2_block1_0_conv" in names and "conv5_block3_add" in names) or "conv5_block3_3_bn" in names


def _sequential(tmp_path, layers, input_shape=(8, 8, 3), name="m.json"):
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "seq",
            "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [None, *input_shape], "name": "in"}}]
            + [{"class_name": cls, "config": {"name": f"l{i}", **conf}} for i, (cls, conf) in enumerate(layers)],
        },
    }
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return str(path)


def test_same_padding_is_tensorflow_same(tmp_path):
    # i = 8, k = 3, s = 2, SAME: o = ceil(8/2) = 4, total padding (4 − 1)·2 + 3 − 8 = 1 → 0 before, 1 after
    report = walk(
        keras_model.load(
            _sequential(
                tmp_path, [("Conv2D", {"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"})]
            )
        )
    )
    assert report.output == (4, 4, 4)
    assert report.leaves()[0].report.hyper["padding"] == [[0, 1], [0, 1]]


def test_layer_types(tmp_path):
    layers = [
        ("ZeroPadding2D", {"padding": [[1, 1], [2, 2]]}),
        ("DepthwiseConv2D", {"kernel_size": [3, 3], "padding": "valid", "use_bias": False}),
        ("SeparableConv2D", {"filters": 6, "kernel_size": [3, 3], "padding": "same"}),
        ("BatchNormalization", {}),
        ("Activation", {"activation": "relu"}),
        ("Conv2DTranspose", {"filters": 2, "kernel_size": [2, 2], "strides": [2, 2], "padding": "same"}),
        ("MaxPooling2D", {"pool_size": [2, 2]}),
        ("Dropout", {"rate": 0.2}),
        ("Flatten", {}),
        ("Dense", {"units": 5, "activation": "softmax"}),
    ]
    report = walk(keras_model.load(_sequential(tmp_path, layers)))
    # 8x8x3 → pad 10x12 → depthwise 8x10 → separable 8x10x6 → transpose 16x20x2 → pool 8x10x2 → 160 → 5
    assert report.output == (5,)
    # depthwise 3·9; separable: depthwise 3·9 + pointwise 3·6 + 6; BN on 6 channels 12
    assert report.totals.params == 3 * 9 + (3 * 9 + 3 * 6 + 6) + 12 + (6 * 2 * 4 + 2) + (160 * 5 + 5)


def test_keras_archive_and_bad_input(tmp_path, cli):
    archive = tmp_path / "model.keras"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(REFERENCE / "keras_vgg16.json", "config.json")
    assert cli("arch", str(archive), "--expect-params", "138357544").code == 0
    bad = tmp_path / "bad.keras"
    bad.write_text("not a zip, not json")
    result = cli("arch", str(bad))
    assert result.code == 2 and "Keras" in result.err and "Traceback" not in result.err


def test_shapes_are_shown_channels_last_as_keras_shows_them(cli):
    # keras.applications.VGG16().summary(): block1_conv1 (None, 224, 224, 64), block5_pool (None, 7, 7, 512)
    result = cli("arch", str(REFERENCE / "keras_vgg16.json"), "--format", "text")
    assert result.code == 0, result.err
    lines = {line.split()[0]: line for line in result.out.splitlines() if line.strip()}
    assert "224x224x64" in lines["block1_conv1"] and "7x7x512" in lines["block5_pool"]
    assert "224x224x3 → 1000" in result.out
    csv = cli("arch", str(REFERENCE / "keras_vgg16.json"), "--csv")
    assert ",224x224x64," in csv.out
    data = cli("arch", str(REFERENCE / "keras_vgg16.json"), "--json").json()
    first = next(row for row in data["layers"] if row["name"] == "block1_conv1")
    assert first["output"] == [64, 224, 224]  # the JSON stays channels-first, as --in takes it


def test_cropping_and_zero_padding_of_each_rank(tmp_path):
    """keras.io's examples: Cropping2D(((2, 2), (4, 4))) on (2, 28, 28, 3) gives (2, 24, 20, 3);
    Cropping1D(1) on (2, 3, 2) gives (2, 1, 2); Cropping3D((2, 4, 2)) on (2, 28, 28, 10, 3) gives
    (2, 24, 20, 6, 3). ZeroPadding1D(2) on (…, 3, 2) gives (…, 7, 2); ZeroPadding3D(1) adds 2 per axis."""
    def output(cls, config, input_shape):
        return walk(keras_model.load(_sequential(tmp_path, [(cls, config)], input_shape))).output

    assert output("Cropping2D", {"cropping": [[2, 2], [4, 4]]}, (28, 28, 3)) == (3, 24, 20)
    assert output("Cropping2D", {"cropping": [1, 3]}, (28, 28, 3)) == (3, 26, 22)
    assert output("Cropping2D", {"cropping": [[1, 0], [0, 3]]}, (8, 8, 3)) == (3, 7, 5)
    assert output("Cropping1D", {"cropping": 1}, (3, 2)) == (2, 1)
    assert output("Cropping1D", {"cropping": [2, 0]}, (5, 2)) == (2, 3)
    assert output("Cropping3D", {"cropping": [2, 4, 2]}, (28, 28, 10, 3)) == (3, 24, 20, 6)
    assert output("ZeroPadding1D", {"padding": 2}, (3, 2)) == (2, 7)
    assert output("ZeroPadding1D", {"padding": [1, 0]}, (3, 2)) == (2, 4)
    assert output("ZeroPadding3D", {"padding": 1}, (4, 4, 4, 2)) == (2, 6, 6, 6)


def test_a_cropping_that_is_not_an_amount_is_one_message(tmp_path, cli):
    path = _sequential(tmp_path, [("Cropping2D", {"cropping": [1, 2, 3]})])
    result = cli("arch", path)
    assert result.code == 2 and "Traceback" not in result.err
    assert "Keras cropping [1, 2, 3] is not an amount for a 2-d layer" in result.err
    too_much = _sequential(tmp_path, [("Cropping2D", {"cropping": 4})], (8, 8, 3), "big.json")
    result = cli("arch", too_much)
    assert result.code == 2 and "leaves nothing" in result.err
