"""The bundled executor: networks of :mod:`convcalc.network` run on numbers, in NumPy.

* :mod:`~convcalc.executor.graph` — the graph walk, forward and backward, written once;
  every layer's arithmetic is its layer type's own ``forward``/``backward``;
* :mod:`~convcalc.executor.init`, :mod:`~convcalc.executor.optim`,
  :mod:`~convcalc.executor.losses` — initial weights, optimizers, losses;
* :mod:`~convcalc.executor.datasets`, :mod:`~convcalc.executor.inputs` — training data
  (``.npz`` or synthetic) and the input of a single run;
* :mod:`~convcalc.executor.training` — the training loop; :mod:`~convcalc.executor.inspection`
  — one run looked at layer by layer; :mod:`~convcalc.executor.weights` — ``.npz`` files;
* :mod:`~convcalc.executor.torch_backend` — the same network in PyTorch, when installed.
"""
