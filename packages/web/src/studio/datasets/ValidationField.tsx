/** The share of conversations held out for validation, from 0 to 0.5. */
export function ValidationField({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  return (
    <label className="field">
      <span>Validation fraction</span>
      <input
        type="number"
        min="0"
        max="0.5"
        step="0.01"
        required
        value={value}
        onChange={(e) => onChange(e.target.value)}
      />
    </label>
  );
}
