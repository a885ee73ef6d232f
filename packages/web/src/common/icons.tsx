// Outline icons drawn with the text colour; hidden from screen readers, since the control around each one carries
// the label.

function OutlineIcon({
  size,
  box,
  d,
  strokeWidth,
}: {
  size: number;
  box: number;
  d: string;
  strokeWidth: string;
}) {
  return (
    <svg width={size} height={size} viewBox={`0 0 ${box} ${box}`} aria-hidden="true">
      <path d={d} fill="none" stroke="currentColor" strokeWidth={strokeWidth} strokeLinejoin="round" />
    </svg>
  );
}

export const PencilIcon = () => (
  <OutlineIcon size={16} box={16} strokeWidth="1.3" d="M11 2.5l2.5 2.5L6 12.5 3 13l.5-3z" />
);

export const TrashIcon = () => (
  <OutlineIcon size={16} box={16} strokeWidth="1.3" d="M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.6 8.5h5.8l.6-8.5" />
);

export const BellIcon = () => (
  <OutlineIcon
    size={18}
    box={20}
    strokeWidth="1.5"
    d="M10 3a5 5 0 0 0-5 5v3l-1.5 3h13L15 11V8a5 5 0 0 0-5-5zM8 16a2 2 0 0 0 4 0"
  />
);
