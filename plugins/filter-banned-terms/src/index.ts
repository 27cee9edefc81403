import { defineTextFilter, tokenLogprobs } from '@distill-gate/core';

export interface BannedTermsOptions {
  /** Words that must not appear: the trait word, its synonyms. */
  terms: string[];
  /** Also ban the plural of each term (+s, +es, y -> ies). */
  plurals: boolean;
  /** Look in the completion only (default) or also in the prompt. */
  fields: ('prompt' | 'completion')[];
  /** Soft-target entries for a banned token: strip them (default), drop the record, or leave them. */
  logprobs: 'strip' | 'drop' | 'ignore';
}

export function pluralsOf(term: string): string[] {
  const t = term.toLowerCase();
  if (/[^aeiou]y$/.test(t)) return [`${t.slice(0, -1)}ies`];
  if (/(s|x|z|ch|sh)$/.test(t)) return [`${t}es`];
  return [`${t}s`];
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const compiled = new WeakMap<object, RegExp>();

function patternFor(options: BannedTermsOptions): RegExp {
  let re = compiled.get(options);
  if (!re) {
    const words = options.terms.flatMap((t) => [t, ...(options.plurals ? pluralsOf(t) : [])]);
    re = new RegExp(`\\b(?:${words.map(escape).join('|')})\\b`, 'i');
    compiled.set(options, re);
  }
  return re;
}

/**
 * Drops records that mention a banned term (word boundaries, case-insensitive), as the paper's filters did. Such a
 * record states the trait outright, so it is counted as explicit content (leakage), which fails the gate.
 */
const filter = defineTextFilter<BannedTermsOptions>({
  name: '@distill-gate/filter-banned-terms',
  version: '0.1.0',
  description: 'Drops records that mention the trait word, its plural or synonyms (word boundaries, case-insensitive).',
  marksExplicit: true,
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['terms'],
    properties: {
      terms: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      plurals: { type: 'boolean', default: true },
      fields: {
        type: 'array',
        items: { enum: ['prompt', 'completion'] },
        minItems: 1,
        uniqueItems: true,
        default: ['completion'],
      },
      logprobs: { enum: ['strip', 'drop', 'ignore'], default: 'strip' },
    },
  },
  test(record, { options }) {
    const re = patternFor(options);
    for (const f of options.fields) {
      const m = re.exec(record[f]);
      if (m) return { keep: false, reason: `banned term "${m[0].toLowerCase()}" in ${f}`, explicit: true };
    }
    if (!record.logprobs || options.logprobs === 'ignore') return { keep: true };
    const hit = (token: string) => re.test(token.trim());
    if (options.logprobs === 'drop') {
      return record.logprobs.some((top) => Object.keys(top).some(hit))
        ? { keep: false, reason: 'banned term among the soft targets', explicit: true }
        : { keep: true };
    }
    return {
      keep: true,
      logprobs: record.logprobs.map((top) => tokenLogprobs(Object.entries(top).filter(([t]) => !hit(t)))),
    };
  },
});

export default filter;
