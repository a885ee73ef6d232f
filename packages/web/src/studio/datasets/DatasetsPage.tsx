// Conversation datasets: the list with the upload and synthesis forms, or one dataset's page.
import { useEffect } from 'react';
import { api } from '../../common/api.ts';
import { DataTable } from '../../common/DataTable.tsx';
import { ErrorMessage } from '../../common/ErrorMessage.tsx';
import { formatCount, formatDate } from '../../common/format.ts';
import { useLoad } from '../../common/requests.ts';
import { datasetPath, Link } from '../../common/router.tsx';
import { DatasetDetail } from './DatasetDetail.tsx';
import { SyntheticForm } from './SyntheticForm.tsx';
import { UploadForm } from './UploadForm.tsx';

export function DatasetsPage({ datasetId }: { datasetId: string | null }) {
  return datasetId ? <DatasetDetail key={datasetId} id={datasetId} /> : <DatasetList />;
}

function DatasetList() {
  const loaded = useLoad(() => api.datasets().then((result) => result.datasets), []);
  const datasets = loaded.value;

  useEffect(() => {
    document.title = 'Datasets · ownlm';
  }, []);

  return (
    <div className="studio-page">
      <h1>Datasets</h1>
      <p className="muted">
        Conversations to fine-tune on, one JSON object a line: OpenAI chat (<code>{'{"messages":[…]}'}</code>
        ), ShareGPT or Alpaca.
      </p>
      <UploadForm />
      <SyntheticForm />
      <h2>Your datasets</h2>
      <ErrorMessage message={loaded.error} />
      {datasets && datasets.length === 0 && <p className="muted">No datasets yet.</p>}
      {datasets && datasets.length > 0 && (
        <DataTable
          columns={[
            'Name',
            'Format',
            { label: 'Conversations', number: true },
            { label: 'Rejected lines', number: true },
            'Created',
          ]}
        >
          {datasets.map((dataset) => (
            <tr key={dataset.id}>
              <td>
                <Link to={datasetPath(dataset.id)}>{dataset.name}</Link>
              </td>
              <td>{dataset.sourceFormat}</td>
              <td className="number">{formatCount(dataset.conversations)}</td>
              <td className="number">{formatCount(dataset.rejectedCount)}</td>
              <td>{formatDate(dataset.createdAt)}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </div>
  );
}
