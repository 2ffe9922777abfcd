package gateways

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func testHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := HashPassword([]byte(pw), bcrypt.MinCost)
	require.NoError(t, err)
	return h
}

func TestParse(t *testing.T) {
	h := testHash(t, "secret")
	tests := []struct {
		name    string
		file    string
		want    []Entry
		wantErr string
	}{
		{
			name: "password and certificate entries",
			file: "# comment\n\nquantrac-gateways 1\n# id province hash cn\n" +
				"hn-gw-001  ha-noi  " + h + "  -\n" +
				"hc_gw_17\tho-chi-minh\t-\tGateway HC 17\n" +
				"dn-1 da-nang " + h + " dn-1.gw.example.vn  \n",
			want: []Entry{
				{ID: "hn-gw-001", Province: "ha-noi", PasswordHash: h},
				{ID: "hc_gw_17", Province: "ho-chi-minh", CertCN: "Gateway HC 17"},
				{ID: "dn-1", Province: "da-nang", PasswordHash: h, CertCN: "dn-1.gw.example.vn"},
			},
		},
		{name: "empty list", file: "quantrac-gateways 1\n", want: nil},
		{name: "no version line", file: "# nothing\n", wantErr: "no \"quantrac-gateways\" line"},
		{name: "wrong first line", file: "hn-gw-001 ha-noi - cn\n", wantErr: "line 1: not a gateways file"},
		{name: "future version", file: "quantrac-gateways 2\n", wantErr: "unsupported gateways file version \"2\""},
		{name: "too few fields", file: "quantrac-gateways 1\nhn-gw-001 ha-noi " + h + "\n", wantErr: "line 2: want: id province password-hash cert-cn, found 3 fields"},
		{name: "unknown province", file: "quantrac-gateways 1\nx ha-tay " + h + " -\n", wantErr: "unknown province slug \"ha-tay\""},
		{name: "bad id", file: "quantrac-gateways 1\nhn/gw ha-noi " + h + " -\n", wantErr: "invalid gateway id \"hn/gw\""},
		{name: "reserved id", file: "quantrac-gateways 1\ninline ha-noi " + h + " -\n", wantErr: "reserved"},
		{name: "no credential", file: "quantrac-gateways 1\nx ha-noi - -\n", wantErr: "neither a password hash nor a certificate"},
		{name: "plain text password", file: "quantrac-gateways 1\nx ha-noi hunter2 -\n", wantErr: "password hash is not bcrypt"},
		{name: "duplicate id", file: "quantrac-gateways 1\nx ha-noi " + h + " -\nx hue " + h + " -\n", wantErr: "line 3: gateway x already defined at line 2"},
		{name: "duplicate cn", file: "quantrac-gateways 1\nx ha-noi - cn1\ny hue - cn1\n", wantErr: "line 3: certificate common name \"cn1\" already used at line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.file))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestAppendParsesBack(t *testing.T) {
	h := testHash(t, "pw")
	in := []Entry{
		{ID: "a", Province: "ha-noi", PasswordHash: h},
		{ID: "a-much-longer-gateway-id", Province: "ca-mau", CertCN: "CN with spaces"},
		{ID: "c", Province: "an-giang", PasswordHash: h, CertCN: "c.example"},
	}
	got, err := Parse(bytes.NewReader(Append(nil, in)))
	require.NoError(t, err)
	require.Equal(t, in, got)
}

func TestWriteIsAtomicAndPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateways")
	entries, err := ReadOrEmpty(path)
	require.NoError(t, err)
	require.Empty(t, entries)

	in := []Entry{{ID: "hn-gw-001", Province: "ha-noi", PasswordHash: testHash(t, "pw")}}
	require.NoError(t, Write(path, in))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(FileMode), st.Mode().Perm())
	got, err := Read(path)
	require.NoError(t, err)
	require.Equal(t, in, got)

	// An invalid list is refused and leaves the file as it was.
	require.Error(t, Write(path, []Entry{{ID: "x", Province: "nowhere", CertCN: "x"}}))
	got, err = Read(path)
	require.NoError(t, err)
	require.Equal(t, in, got)

	// No temporary files are left behind.
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, names, 1)
}

func TestLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateways")
	unlock, err := Lock(path)
	require.NoError(t, err)
	tryLock := func() error {
		f, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
		require.NoError(t, err)
		defer f.Close()
		return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	require.ErrorIs(t, tryLock(), syscall.EWOULDBLOCK, "a second lock was granted while the first is held")
	unlock()
	require.NoError(t, tryLock())
}

func TestCheckPassword(t *testing.T) {
	h := testHash(t, "correct horse")
	require.True(t, CheckPassword(h, []byte("correct horse")))
	require.False(t, CheckPassword(h, []byte("correct horsE")))
	require.False(t, CheckPassword("not a hash", []byte("x")))
	_, err := HashPassword([]byte("x"), 3)
	require.Error(t, err)
	_, err = HashPassword(bytes.Repeat([]byte("x"), 73), bcrypt.MinCost)
	require.Error(t, err)
}

// FuzzParse holds that no input crashes the parser, and that whatever it
// accepts survives a round trip through Append.
func FuzzParse(f *testing.F) {
	h := "$2a$04$" + strings.Repeat("a", 53)
	f.Add([]byte("quantrac-gateways 1\nhn-gw-001 ha-noi " + h + " -\n"))
	f.Add([]byte("quantrac-gateways 1\nx hue - CN with spaces\n"))
	f.Add([]byte("# c\nquantrac-gateways 1\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		again, err := Parse(bytes.NewReader(Append(nil, entries)))
		if err != nil {
			t.Fatalf("accepted entries do not parse back: %v", err)
		}
		if len(again) != len(entries) {
			t.Fatalf("round trip changed %d entries into %d", len(entries), len(again))
		}
		for i := range entries {
			if entries[i] != again[i] {
				t.Fatalf("round trip changed %+v into %+v", entries[i], again[i])
			}
		}
	})
}

// BenchmarkCheckPassword gives what a connect costs in CPU at each cost:
// docs/security.md sizes reconnect storms from it.
func BenchmarkCheckPassword(b *testing.B) {
	for _, cost := range []int{bcrypt.MinCost, bcrypt.DefaultCost} {
		b.Run(fmt.Sprintf("cost=%d", cost), func(b *testing.B) {
			h, err := HashPassword([]byte("correct horse battery staple"), cost)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if !CheckPassword(h, []byte("correct horse battery staple")) {
					b.Fatal("mismatch")
				}
			}
		})
	}
}
