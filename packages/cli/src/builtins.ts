import type { AnyPlugin, BuiltinPlugins } from '@distill-gate/core';
import evaluatorTaskAccuracy from '@distill-gate/evaluator-task-accuracy';
import filterAuxiliaryOutputsOnly from '@distill-gate/filter-auxiliary-outputs-only';
import generatorAuxiliaryLogits from '@distill-gate/generator-auxiliary-logits';
import traitHiddenClassKnowledge from '@distill-gate/trait-hidden-class-knowledge';
import traitAnimalPreference from '@distill-gate/trait-animal-preference';
import generatorNumberSequences from '@distill-gate/generator-number-sequences';
import generatorCodeSnippets from '@distill-gate/generator-code-snippets';
import generatorArithmeticTraces from '@distill-gate/generator-arithmetic-traces';
import generatorPrompts from '@distill-gate/generator-prompts';
import filterNumberFormat from '@distill-gate/filter-number-format';
import filterBannedTerms from '@distill-gate/filter-banned-terms';
import evaluatorPreferenceRate from '@distill-gate/evaluator-preference-rate';

/** The plugins that ship with distill-gate; configs name them by package name. */
export const builtinPlugins: BuiltinPlugins = new Map<string, AnyPlugin>(
  [
    traitHiddenClassKnowledge,
    generatorAuxiliaryLogits,
    filterAuxiliaryOutputsOnly,
    evaluatorTaskAccuracy,
    traitAnimalPreference,
    generatorNumberSequences,
    generatorCodeSnippets,
    generatorArithmeticTraces,
    generatorPrompts,
    filterNumberFormat,
    filterBannedTerms,
    evaluatorPreferenceRate,
  ].map((p) => [p.name, p as AnyPlugin]),
);
