// One dataset: its numbers, the lines rejected at upload, statistics with the length histogram, a paged preview,
// a link to fine-tune on it, and delete.
import { api } from '../../common/api.ts';
import { useConfirm } from '../../common/ConfirmDialog.tsx';
import { ErrorMessage } from '../../common/ErrorMessage.tsx';
import { formatCount, formatDate } from '../../common/format.ts';
import { useAction, useLoad } from '../../common/requests.ts';
import { Link, navigate } from '../../common/router.tsx';
import type { Dataset } from '../../types.ts';
import { Preview } from './Preview.tsx';
import { Rejected } from './Rejected.tsx';
import { Statistics } from './Statistics.tsx';

export function DatasetDetail({ id }: { id: string }) {
  const loaded = useLoad(
    () =>
      api.dataset(id).then((result) => {
        document.title = `${result.dataset.name} · ownlm`;
        return result.dataset;
      }),
    [id],
  );
  const dataset = loaded.value;
  const action = useAction();
  const confirmDelete = useConfirm((doomed: Dataset) => ({
    title: 'Delete this dataset?',
    message: `“${doomed.name}” and its ${formatCount(doomed.conversations)} conversations will be deleted. Jobs that used it keep their results.`,
    confirmLabel: 'Delete',
    onConfirm: () =>
      void action.run(async () => {
        await api.deleteDataset(doomed.id);
        navigate('/datasets');
      }),
  }));

  return (
    <div className="studio-page">
      <p className="breadcrumb small">
        <Link to="/datasets">Datasets</Link>
      </p>
      <ErrorMessage message={action.error ?? loaded.error} />
      {dataset && (
        <>
          <div className="page-head">
            <h1>{dataset.name}</h1>
            <div className="page-actions">
              <Link className="button primary" to={`/finetune?dataset=${encodeURIComponent(dataset.id)}`}>
                Fine-tune on it
              </Link>
              <button type="button" className="danger-text" onClick={() => confirmDelete.ask(dataset)}>
                Delete
              </button>
            </div>
          </div>
          <p className="muted">
            {dataset.sourceFormat} · {formatCount(dataset.conversations)} conversations (
            {formatCount(dataset.trainConversations)} train, {formatCount(dataset.validationConversations)}{' '}
            validation) · uploaded {formatDate(dataset.createdAt)}
          </p>
          <Rejected dataset={dataset} />
          <Statistics stats={dataset.stats} />
          <Preview dataset={dataset} />
        </>
      )}
      {confirmDelete.dialog}
    </div>
  );
}
