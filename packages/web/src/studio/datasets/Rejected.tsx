// The lines of the uploaded file that were left out of the dataset, each with its number, field and reason.
import { DataTable } from '../../common/DataTable.tsx';
import { formatCount } from '../../common/format.ts';
import type { Dataset } from '../../types.ts';

export function Rejected({ dataset }: { dataset: Dataset }) {
  return (
    <section aria-labelledby="rejected-title">
      <h2 id="rejected-title">Validation</h2>
      {dataset.rejectedCount === 0 ? (
        <p>Every line was accepted.</p>
      ) : (
        <>
          <p role="status" className="warning">
            {formatCount(dataset.rejectedCount)} {dataset.rejectedCount === 1 ? 'line was' : 'lines were'}{' '}
            rejected and left out of the dataset
            {dataset.rejected.length < dataset.rejectedCount
              ? `; the first ${dataset.rejected.length} are listed`
              : ''}
            .
          </p>
          <DataTable
            className="rejected-table"
            columns={[{ label: 'Line', number: true }, 'Field', 'Problem']}
          >
            {dataset.rejected.map((line) => (
              <tr key={`${line.line}:${line.field ?? ''}`}>
                <td className="number">{line.line}</td>
                <td>{line.field ? <code>{line.field}</code> : '—'}</td>
                <td>{line.message}</td>
              </tr>
            ))}
          </DataTable>
        </>
      )}
    </section>
  );
}
