// Every benchmark reports rows measured in the same run as their baselines (ratios, not absolutes).
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  /** Ratio against a baseline measured in the same run, with what it is relative to. */
  ratio?: { value: number; against: string };
}

export interface BenchResult {
  bench: string;
  rows: BenchRow[];
  notes?: string[];
}
