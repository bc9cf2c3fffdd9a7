export declare const SHARED_DIR: string;
export declare const JFK_REFERENCE: string;
export interface CorpusClip {
  set: 'jfk' | 'librivox' | 'cards';
  id: string;
  wav: string;
  reference: string;
}
export declare function sharedCorpus(sharedDir?: string): CorpusClip[];
