"""Inverse questions: the hyper-parameters that give a size (``convcalc solve``), chain plans,
and symbolic hyper-parameters for ``convcalc shape`` — searched and checked through the layers."""
