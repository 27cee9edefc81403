/**
 * A small deterministic tokenizer for probe language models. Text is split into pieces: a word with its leading
 * space (" owl"), a run of up to three digits ("182": every number 0..999 is one token, as in the cl100k and
 * Llama-3 tokenizers), a punctuation mark with its trailing space (", "), or one other character. The vocabulary is
 * the special tokens, every printable ASCII character (alone, after a space, and punctuation before one), the numbers
 * 0..999 and the words of a corpus. A piece not in the vocabulary is spelled character by character, so any ASCII
 * text round-trips exactly; other characters become <unk>. The vocabulary is saved beside the weights, so a model
 * and its tokenizer travel together.
 */

export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
export const UNK = 3;
/** Separates the prompt from the completion: the model answers after it. */
export const SEP = 4;
export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<unk>', '<sep>'];

const PIECE = / ?[A-Za-z]+|[0-9]{1,3}|[^\sA-Za-z0-9] ?|[\s\S]/g;

export interface TokenizerJson {
  kind: 'distill-gate-pieces';
  version: 1;
  pieces: string[];
}

export class Tokenizer {
  private readonly index: Map<string, number>;

  constructor(readonly pieces: string[]) {
    for (let i = 0; i < SPECIAL_TOKENS.length; i++) {
      if (pieces[i] !== SPECIAL_TOKENS[i])
        throw new Error(`tokenizer: piece ${i} must be ${SPECIAL_TOKENS[i]}, got ${JSON.stringify(pieces[i])}`);
    }
    this.index = new Map(pieces.map((p, i) => [p, i]));
    if (this.index.size !== pieces.length) throw new Error('tokenizer: duplicate pieces');
  }

  get size(): number {
    return this.pieces.length;
  }

  /** Builds the vocabulary from a corpus: words seen at least `minCount` times become single tokens. */
  static fromCorpus(texts: Iterable<string>, minCount = 2): Tokenizer {
    const counts = new Map<string, number>();
    for (const t of texts) {
      for (const m of t.matchAll(PIECE)) {
        const p = m[0];
        if (/[A-Za-z]{2,}/.test(p)) counts.set(p, (counts.get(p) ?? 0) + 1);
      }
    }
    const chars: string[] = [];
    for (let c = 32; c < 127; c++) chars.push(String.fromCharCode(c));
    const punctuation = chars.filter((c) => /[^\sA-Za-z0-9]/.test(c));
    const numbers = Array.from({ length: 1000 }, (_, i) => String(i));
    const base = [
      ...chars,
      ...chars.filter((c) => /[A-Za-z]/.test(c)).map((c) => ` ${c}`),
      ...punctuation.map((c) => `${c} `),
      '\n',
      '\t',
      ...numbers.filter((n) => n.length > 1),
    ];
    // Sorted, so the same corpus gives the same ids whatever the order of its texts.
    const words = [...counts]
      .filter(([, n]) => n >= minCount)
      .map(([w]) => w)
      .sort();
    return new Tokenizer([...SPECIAL_TOKENS, ...base, ...words]);
  }

  static fromJSON(json: TokenizerJson): Tokenizer {
    if (json?.kind !== 'distill-gate-pieces' || !Array.isArray(json.pieces))
      throw new Error('not a distill-gate tokenizer');
    return new Tokenizer(json.pieces);
  }

  toJSON(): TokenizerJson {
    return { kind: 'distill-gate-pieces', version: 1, pieces: this.pieces };
  }

  /** The id of one piece, or undefined when it is not in the vocabulary. */
  idOf(piece: string): number | undefined {
    return this.index.get(piece);
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const m of text.matchAll(PIECE)) {
      const p = m[0];
      const id = this.index.get(p);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      // Not in the vocabulary: a leading space goes with the first letter, then one character at a time.
      const chars = [...p];
      if (chars[0] === ' ' && chars.length > 1 && /[A-Za-z]/.test(chars[1])) chars.splice(0, 2, ` ${chars[1]}`);
      for (const c of chars) ids.push(this.index.get(c) ?? UNK);
    }
    return ids;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id < SPECIAL_TOKENS.length) continue;
      s += this.pieces[id] ?? '';
    }
    return s;
  }

  /** The ids of a prompt/completion pair as the model sees it: <bos> prompt <sep> completion <eos>. */
  encodePair(prompt: string, completion: string): { ids: number[]; completionStart: number } {
    const head = [BOS, ...this.encode(prompt), SEP];
    return { ids: [...head, ...this.encode(completion), EOS], completionStart: head.length };
  }
}
