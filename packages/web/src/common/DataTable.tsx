import type { ReactNode } from 'react';

/** A column's heading; a numeric column's values are right-aligned. */
type Column = string | { label: string; number: true };

/** A table of records that scrolls sideways on a narrow screen: a heading row, then `children` as its rows. */
export function DataTable({
  className,
  columns,
  children,
}: {
  className?: string;
  columns: Column[];
  children: ReactNode;
}) {
  return (
    <div className="table-scroll">
      <table className={className ? `data-table ${className}` : 'data-table'}>
        <thead>
          <tr>
            {columns.map((column) =>
              typeof column === 'string' ? (
                <th key={column} scope="col">
                  {column}
                </th>
              ) : (
                <th key={column.label} scope="col" className="number">
                  {column.label}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
