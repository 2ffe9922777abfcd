package export

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"
)

// TestInteropFiles writes the fixture and 100,000 generated rows in every
// format to $QUANTRAC_EXPORT_INTEROP_DIR, for checking with other readers
// (DuckDB, pyarrow, Spark; docs/export.md shows how). It is skipped when the
// variable is unset; the files are then only written, checked below by
// reading them back as every other test does.
func TestInteropFiles(t *testing.T) {
	dir := os.Getenv("QUANTRAC_EXPORT_INTEROP_DIR")
	if dir == "" {
		t.Skip("QUANTRAC_EXPORT_INTEROP_DIR not set")
	}
	for _, f := range allFormats {
		for name, src := range map[string]func() (storage.SeriesSet, []string){
			"fixture":   func() (storage.SeriesSet, []string) { return newListSet(fixture()), fixtureColumns },
			"generated": func() (storage.SeriesSet, []string) { return &genSet{series: 100, perSeries: 1000}, genColumns },
		} {
			set, cols := src()
			path := filepath.Join(dir, name+f.Extension())
			out, err := os.Create(path)
			require.NoError(t, err)
			_, err = Export(context.Background(), out, set, Options{Format: f, Columns: cols, RowsPerGroup: 16384})
			require.NoError(t, err)
			require.NoError(t, out.Close())
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NotEmpty(t, readers[f](t, data).rows)
		}
	}
}
