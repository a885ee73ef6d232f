// Upload a JSONL file of conversations; a file with no valid conversation shows every rejected line with its
// number and reason.
import { useState, type FormEvent } from 'react';
import { api } from '../../common/api.ts';
import { ErrorMessage } from '../../common/ErrorMessage.tsx';
import { useAction } from '../../common/requests.ts';
import { datasetPath, navigate } from '../../common/router.tsx';
import type { DatasetFormat } from '../../types.ts';
import { ValidationField } from './ValidationField.tsx';

export function UploadForm() {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [format, setFormat] = useState<DatasetFormat>('auto');
  const [validation, setValidation] = useState('0.1');
  const action = useAction();

  function upload(event: FormEvent) {
    event.preventDefault();
    if (!file) return;
    void action.run(async () => {
      const { dataset } = await api.uploadDataset(file, {
        name: name.trim() || file.name.replace(/\.jsonl?$/i, ''),
        format,
        validation: Number(validation),
      });
      navigate(datasetPath(dataset.id));
    });
  }

  return (
    <form className="card form-grid" onSubmit={upload} aria-labelledby="upload-title">
      <h2 id="upload-title" className="wide">
        Upload a JSONL file
      </h2>
      <label className="field wide">
        <span>File</span>
        <input
          type="file"
          accept=".jsonl,.json,.ndjson,.txt,application/x-ndjson,application/json,text/plain"
          required
          onChange={(e) => setFile(e.target.files?.[0] ?? null)}
        />
      </label>
      <label className="field">
        <span>Name</span>
        <input
          value={name}
          placeholder={file?.name ?? 'e.g. support-voice'}
          onChange={(e) => setName(e.target.value)}
        />
      </label>
      <label className="field">
        <span>Format</span>
        <select value={format} onChange={(e) => setFormat(e.target.value as DatasetFormat)}>
          <option value="auto">Detect from the first line</option>
          <option value="openai">OpenAI chat</option>
          <option value="sharegpt">ShareGPT</option>
          <option value="alpaca">Alpaca</option>
        </select>
      </label>
      <ValidationField value={validation} onChange={setValidation} />
      <div className="form-actions wide">
        <button type="submit" className="primary" disabled={!file || action.busy}>
          {action.busy ? 'Uploading…' : 'Upload'}
        </button>
      </div>
      <ErrorMessage message={action.error} className="wide preformatted" />
    </form>
  );
}
