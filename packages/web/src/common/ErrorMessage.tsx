/** A failure's message as an alert, or nothing when there is none. */
export function ErrorMessage({ message, className }: { message: string | null; className?: string }) {
  if (!message) return null;
  return (
    <p role="alert" className={className ? `error ${className}` : 'error'}>
      {message}
    </p>
  );
}
