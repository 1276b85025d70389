"""Homework: ``convcalc quiz`` draws questions from a seed and solves them through the engine
(:mod:`convcalc.homework.topics`); ``convcalc grade`` marks a class's answers against the key and
names each mistake by recomputing the answer under the wrong rule (:mod:`convcalc.homework.mistakes`)."""
