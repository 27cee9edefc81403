import type { AnyPlugin, BuiltinPlugins } from '@distill-gate/core';
import evaluatorTaskAccuracy from '@distill-gate/evaluator-task-accuracy';
import filterAuxiliaryOutputsOnly from '@distill-gate/filter-auxiliary-outputs-only';
import generatorAuxiliaryLogits from '@distill-gate/generator-auxiliary-logits';
import traitHiddenClassKnowledge from '@distill-gate/trait-hidden-class-knowledge';

/** The plugins that ship with distill-gate; configs name them by package name. */
export const builtinPlugins: BuiltinPlugins = new Map<string, AnyPlugin>(
  [traitHiddenClassKnowledge, generatorAuxiliaryLogits, filterAuxiliaryOutputsOnly, evaluatorTaskAccuracy].map((p) => [p.name, p as AnyPlugin]),
);
