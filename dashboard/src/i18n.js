// i18n.js — every label of the dashboard, in ONE table {id, en}, and t().
// Bahasa Indonesia is the default; ?lang=en (or the switch) selects English.
const T = {
  app: { id: 'Pusat Komando', en: 'Command Center' },
  overview: { id: 'Ringkasan', en: 'Overview' },
  program: { id: 'Program', en: 'Program' },
  prices: { id: 'Harga', en: 'Prices' },
  units: { id: 'Unit lapangan', en: 'Field units' },
  alerts: { id: 'Peringatan', en: 'Alerts' },
  input: { id: 'Input data', en: 'Data entry' },
  report: { id: 'Laporan', en: 'Report' },
  switchLang: { id: 'English', en: 'Bahasa Indonesia' },
  switchLangLabel: { id: 'Ganti bahasa ke English', en: 'Switch language to Bahasa Indonesia' },
  nav: { id: 'Navigasi', en: 'Navigation' },
  // connection
  connLive: { id: 'Terhubung', en: 'Connected' },
  connConnecting: { id: 'Menyambung…', en: 'Connecting…' },
  connLost: { id: 'Terputus', en: 'Disconnected' },
  stale: { id: 'Data mungkin usang sejak {t}', en: 'Data may be stale since {t}' },
  // dimensions
  dimPrograms: { id: '{running} dari {programs} program berjalan', en: '{running} of {programs} programs running' },
  dimCatalogued: { id: '{n} dipantau', en: '{n} monitored' },
  governance: { id: 'Tata Kelola', en: 'Governance' },
  branding: { id: 'Branding', en: 'Branding' },
  economy: { id: 'Ekonomi', en: 'Economy' },
  living: { id: 'Kehidupan', en: 'Living' },
  society: { id: 'Masyarakat', en: 'Society' },
  environment: { id: 'Lingkungan', en: 'Environment' },
  // statuses (CONTRACT §5.2, kpi.c)
  achieved: { id: 'tercapai', en: 'achieved' },
  on_track: { id: 'sesuai jalur', en: 'on track' },
  at_risk: { id: 'perlu percepatan', en: 'needs acceleration' },
  off_track: { id: 'tertinggal', en: 'off track' },
  worsening: { id: 'memburuk', en: 'worsening' },
  missed: { id: 'tidak tercapai', en: 'missed' },
  not_started: { id: 'belum dimulai', en: 'not started' },
  no_data: { id: 'belum ada data', en: 'no data' },
  // program status
  planned: { id: 'direncanakan', en: 'planned' },
  running: { id: 'berjalan', en: 'running' },
  done: { id: 'selesai', en: 'done' },
  // unit presence
  online: { id: 'daring', en: 'online' },
  offline: { id: 'luring', en: 'offline' },
  stale_unit: { id: 'diam', en: 'stale' },
  // alert states & severities
  firing: { id: 'aktif', en: 'firing' },
  resolved: { id: 'selesai', en: 'resolved' },
  acked: { id: 'ditangani', en: 'acknowledged' },
  info: { id: 'info', en: 'info' },
  warning: { id: 'waspada', en: 'warning' },
  critical: { id: 'kritis', en: 'critical' },
  // tiles & program view
  progress: { id: 'Capaian', en: 'Progress' },
  target: { id: 'Target', en: 'Target' },
  baseline: { id: 'Baseline', en: 'Baseline' },
  current: { id: 'Saat ini', en: 'Current' },
  expected: { id: 'Seharusnya', en: 'Expected' },
  projected: { id: 'Proyeksi', en: 'Projected' },
  eta: { id: 'Perkiraan tercapai', en: 'ETA' },
  deadline: { id: 'Tenggat', en: 'Deadline' },
  status: { id: 'Status', en: 'Status' },
  kpi: { id: 'Indikator', en: 'KPI' },
  period: { id: 'Periode', en: 'Period' },
  moreKpis: { id: '+{n} indikator lain · capaian program {p}', en: '+{n} more KPIs · program progress {p}' },
  lastSample: { id: 'Data terakhir', en: 'Latest data' },
  none: { id: '–', en: '–' },
  more: { id: '… dan {n} lagi', en: '… and {n} more' },
  noPrograms: { id: 'Belum ada program di katalog.', en: 'No programs in the catalog.' },
  chooseProgram: { id: 'Pilih program', en: 'Choose a program' },
  history: { id: 'Riwayat {kpi}', en: 'History of {kpi}' },
  range: { id: 'Rentang', en: 'Range' },
  r1d: { id: '24 jam', en: '24 h' },
  r7d: { id: '7 hari', en: '7 days' },
  r30d: { id: '30 hari', en: '30 days' },
  r1y: { id: '1 tahun', en: '1 year' },
  panLeft: { id: 'Geser ke kiri', en: 'Pan left' },
  panRight: { id: 'Geser ke kanan', en: 'Pan right' },
  zoomHint: { id: 'Seret pada grafik untuk memperbesar, klik ganda untuk kembali', en: 'Drag on the chart to zoom, double-click to reset' },
  points: { id: '{n} titik', en: '{n} points' },
  // prices
  pricesTitle: { id: 'Papan harga SIMAS BAPOKTING', en: 'SIMAS BAPOKTING price board' },
  commodity: { id: 'Komoditas', en: 'Commodity' },
  market: { id: 'Pasar', en: 'Market' },
  price: { id: 'Harga', en: 'Price' },
  reference: { id: 'Acuan', en: 'Reference' },
  deviation: { id: 'Selisih acuan', en: 'Deviation' },
  changeToday: { id: 'Perubahan hari ini', en: 'Change today' },
  updated: { id: 'Diperbarui', en: 'Updated' },
  spike: { id: 'lonjakan', en: 'spike' },
  noPrices: { id: 'Belum ada data harga.', en: 'No price data yet.' },
  // units
  unit: { id: 'Unit', en: 'Unit' },
  presence: { id: 'Kehadiran', en: 'Presence' },
  lastSeen: { id: 'Terakhir terlihat', en: 'Last seen' },
  map: { id: 'Peta posisi unit', en: 'Map of unit positions' },
  unitsSummary: { id: '{online} daring, {stale} diam, {offline} luring', en: '{online} online, {stale} stale, {offline} offline' },
  noUnits: { id: 'Belum ada unit.', en: 'No units yet.' },
  // alerts
  alertsN: { id: '⚠ {n} peringatan', en: '⚠ {n} alerts' },
  noAlerts: { id: 'Tidak ada peringatan aktif', en: 'No active alerts' },
  ack: { id: 'Tangani', en: 'Acknowledge' },
  ackNote: { id: 'Catatan', en: 'Note' },
  ackForbidden: { id: 'Butuh token operator untuk menangani peringatan.', en: 'An operator token is needed to acknowledge alerts.' },
  ackedBy: { id: 'ditangani {who} {t}', en: 'acknowledged by {who} {t}' },
  state: { id: 'Keadaan', en: 'State' },
  all: { id: 'Semua', en: 'All' },
  active: { id: 'Aktif', en: 'Active' },
  from: { id: 'Dari', en: 'From' },
  to: { id: 'Sampai', en: 'To' },
  show: { id: 'Tampilkan', en: 'Show' },
  firedAt: { id: 'Mulai', en: 'Fired' },
  resolvedAt: { id: 'Selesai', en: 'Resolved' },
  severity: { id: 'Tingkat', en: 'Severity' },
  message: { id: 'Pesan', en: 'Message' },
  value: { id: 'Nilai', en: 'Value' },
  // input
  inputTitle: { id: 'Masukkan angka survei', en: 'Enter a survey figure' },
  metric: { id: 'Metrik', en: 'Metric' },
  labels: { id: 'Label (kunci=nilai, dipisah koma)', en: 'Labels (key=value, comma separated)' },
  when: { id: 'Waktu', en: 'Time' },
  send: { id: 'Kirim', en: 'Send' },
  stored: { id: 'Tersimpan: {n}', en: 'Stored: {n}' },
  rejected: { id: 'Ditolak: {reason}', en: 'Rejected: {reason}' },
  csvTitle: { id: 'Unggah CSV', en: 'Upload CSV' },
  csvHint: { id: 'Format sama dengan export.csv: ts,program,unit,metric,labels,value', en: 'Same format as export.csv: ts,program,unit,metric,labels,value' },
  csvFile: { id: 'Berkas CSV', en: 'CSV file' },
  upload: { id: 'Unggah', en: 'Upload' },
  csvResult: { id: 'Tersimpan {n}, ditolak {m}', en: 'Stored {n}, rejected {m}' },
  line: { id: 'baris {n}: {reason}', en: 'line {n}: {reason}' },
  needOperator: { id: 'Butuh token operator.', en: 'An operator token is needed.' },
  // report
  reportTitle: { id: 'Laporan evaluasi', en: 'Evaluation report' },
  generate: { id: 'Buat laporan', en: 'Make report' },
  print: { id: 'Cetak', en: 'Print' },
  generatedAt: { id: 'Dibuat {t}', en: 'Generated {t}' },
  periodRange: { id: 'Periode {from} – {to}', en: 'Period {from} – {to}' },
  dimensions: { id: 'Dimensi', en: 'Dimensions' },
  programs: { id: 'Program', en: 'Programs' },
  valueAtFrom: { id: 'Awal periode', en: 'At start' },
  valueAtTo: { id: 'Akhir periode', en: 'At end' },
  loading: { id: 'Memuat…', en: 'Loading…' },
  error: { id: 'Gagal: {e}', en: 'Failed: {e}' },
  agency: { id: 'OPD', en: 'Agency' },
  clockLabel: { id: 'Waktu {tz}', en: 'Time {tz}' },
};

let lang = 'id';
export function setLang(l) {
  lang = l === 'en' ? 'en' : 'id';
  document.documentElement.lang = lang;
}
export function getLang() {
  return lang;
}
// t('dimPrograms', {running: 3, programs: 4}); an unknown key shows itself.
export function t(key, vars) {
  const e = T[key];
  let s = e ? e[lang] : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}
