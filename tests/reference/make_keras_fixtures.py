"""Write the Keras model configs used by tests/test_interop_keras.py, in the form of Keras 3's
``model.to_json()`` (functional API), without TensorFlow or Keras.

The architectures and layer names follow keras.applications (``keras/src/applications/vgg16.py``
and ``resnet.py``: ResNet50 = ``stack1`` blocks of ``block1``, convolutions with bias, batch norm
epsilon 1.001e-5). The counts Keras documents for them (keras.io/api/applications, "Parameters"
column; ``model.summary()`` "Total params", which includes the batch-norm moving statistics):
VGG16 138,357,544 and ResNet50 25,636,712.

    python tests/reference/make_keras_fixtures.py   # rewrites keras_vgg16.json, keras_resnet50.json
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


class Builder:
    def __init__(self, name: str, input_shape: list[int]) -> None:
        self.name = name
        self.layers: list[dict] = [
            {
                "module": "keras.layers",
                "class_name": "InputLayer",
                "name": "input_layer",
                "config": {"batch_shape": [None, *input_shape], "dtype": "float32", "name": "input_layer"},
                "inbound_nodes": [],
            }
        ]

    @staticmethod
    def _tensor(name: str) -> dict:
        return {"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}

    def add(self, cls: str, name: str, inputs: str | list[str], **config) -> str:
        args = [self._tensor(inputs)] if isinstance(inputs, str) else [[self._tensor(i) for i in inputs]]
        self.layers.append(
            {
                "module": "keras.layers",
                "class_name": cls,
                "name": name,
                "config": {"name": name, "trainable": True, **config},
                "inbound_nodes": [{"args": args, "kwargs": {}}],
            }
        )
        return name

    def model(self, output: str) -> dict:
        return {
            "module": "keras.src.models.functional",
            "class_name": "Functional",
            "config": {
                "name": self.name,
                "trainable": True,
                "layers": self.layers,
                "input_layers": [["input_layer", 0, 0]],
                "output_layers": [[output, 0, 0]],
            },
        }


def vgg16() -> dict:
    b = Builder("vgg16", [224, 224, 3])
    x = "input_layer"
    for block, (filters, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], start=1):
        for i in range(1, convs + 1):
            x = b.add(
                "Conv2D",
                f"block{block}_conv{i}",
                x,
                filters=filters,
                kernel_size=[3, 3],
                strides=[1, 1],
                padding="same",
                activation="relu",
                use_bias=True,
            )
        x = b.add("MaxPooling2D", f"block{block}_pool", x, pool_size=[2, 2], strides=[2, 2], padding="valid")
    x = b.add("Flatten", "flatten", x)
    x = b.add("Dense", "fc1", x, units=4096, activation="relu")
    x = b.add("Dense", "fc2", x, units=4096, activation="relu")
    x = b.add("Dense", "predictions", x, units=1000, activation="softmax")
    return b.model(x)


def resnet50() -> dict:
    b = Builder("resnet50", [224, 224, 3])
    eps = 1.001e-5

    def block1(x: str, filters: int, stride: int, conv_shortcut: bool, name: str) -> str:
        if conv_shortcut:
            shortcut = b.add(
                "Conv2D",
                f"{name}_0_conv",
                x,
                filters=4 * filters,
                kernel_size=[1, 1],
                strides=[stride] * 2,
                padding="valid",
            )
            shortcut = b.add("BatchNormalization", f"{name}_0_bn", shortcut, axis=3, epsilon=eps)
        else:
            shortcut = x
        x = b.add(
            "Conv2D", f"{name}_1_conv", x, filters=filters, kernel_size=[1, 1], strides=[stride] * 2, padding="valid"
        )
        x = b.add("BatchNormalization", f"{name}_1_bn", x, axis=3, epsilon=eps)
        x = b.add("Activation", f"{name}_1_relu", x, activation="relu")
        x = b.add("Conv2D", f"{name}_2_conv", x, filters=filters, kernel_size=[3, 3], strides=[1, 1], padding="same")
        x = b.add("BatchNormalization", f"{name}_2_bn", x, axis=3, epsilon=eps)
        x = b.add("Activation", f"{name}_2_relu", x, activation="relu")
        x = b.add(
            "Conv2D", f"{name}_3_conv", x, filters=4 * filters, kernel_size=[1, 1], strides=[1, 1], padding="valid"
        )
        x = b.add("BatchNormalization", f"{name}_3_bn", x, axis=3, epsilon=eps)
        x = b.add("Add", f"{name}_add", [shortcut, x])
        return b.add("Activation", f"{name}_out", x, activation="relu")

    def stack1(x: str, filters: int, blocks: int, stride1: int, name: str) -> str:
        x = block1(x, filters, stride1, True, f"{name}_block1")
        for i in range(2, blocks + 1):
            x = block1(x, filters, 1, False, f"{name}_block{i}")
        return x

    x = b.add("ZeroPadding2D", "conv1_pad", "input_layer", padding=[[3, 3], [3, 3]])
    x = b.add("Conv2D", "conv1_conv", x, filters=64, kernel_size=[7, 7], strides=[2, 2], padding="valid")
    x = b.add("BatchNormalization", "conv1_bn", x, axis=3, epsilon=eps)
    x = b.add("Activation", "conv1_relu", x, activation="relu")
    x = b.add("ZeroPadding2D", "pool1_pad", x, padding=[[1, 1], [1, 1]])
    x = b.add("MaxPooling2D", "pool1_pool", x, pool_size=[3, 3], strides=[2, 2], padding="valid")
    x = stack1(x, 64, 3, 1, "conv2")
    x = stack1(x, 128, 4, 2, "conv3")
    x = stack1(x, 256, 6, 2, "conv4")
    x = stack1(x, 512, 3, 2, "conv5")
    x = b.add("GlobalAveragePooling2D", "avg_pool", x)
    x = b.add("Dense", "predictions", x, units=1000, activation="softmax")
    return b.model(x)


if __name__ == "__main__":
    for name, model in (("keras_vgg16.json", vgg16()), ("keras_resnet50.json", resnet50())):
        (HERE / name).write_text(json.dumps(model, indent=1) + "\n")
        print("wrote", HERE / name)
