package mimewalk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bodgit/sevenzip"
	"github.com/ulikunitz/xz/lzma"
)

// 7z's LZMA and LZMA2 coders are read with a dictionary no larger than
// the coder's declared output, nor than maxDict. The header declares up
// to 3 GiB (LZMA2) or 4 GiB (LZMA), which github.com/bodgit/sevenzip's
// own coders allocate whole, per stream opened: a 2.6 KB 7z of 50 tiny
// streams each declaring 3 GiB cost 9 GiB of memory and 53 s (7-Zip
// allocates no more than the output needs). A stream whose matches
// reach past maxDict (7-Zip's -mx=9 dictionary; larger ones only by
// -md) fails to decode past that point: the member is then malformed,
// and held when nothing of it was read. The same bound holds for zip
// LZMA members (openZip).
const maxDict = 64 << 20

func init() {
	sevenzip.RegisterDecompressor([]byte{0x21}, lzma2Coder)
	sevenzip.RegisterDecompressor([]byte{0x03, 0x01, 0x01}, lzmaCoder)
}

// coderDict is the dictionary a coder of declared dictionary dict and
// declared output size is read with.
func coderDict(dict, size uint64) int {
	return int(max(min(dict, size, maxDict), lzma.MinDictCap))
}

// lzma2Coder reads a 7z LZMA2 coder: one property byte, the dictionary
// size as Lzma2Dec.c decodes it (40: 4 GiB - 1).
func lzma2Coder(p []byte, size uint64, in []io.ReadCloser) (io.ReadCloser, error) {
	if len(in) != 1 || len(p) != 1 || p[0] > 40 {
		return nil, errors.New("lzma2: bad coder")
	}
	dict := uint64(1)<<32 - 1
	if p[0] < 40 {
		dict = uint64(2|p[0]&1) << (p[0]/2 + 11)
	}
	lr, err := lzma.Reader2Config{DictCap: coderDict(dict, size)}.NewReader2(in[0])
	if err != nil {
		return nil, fmt.Errorf("lzma2: %w", err)
	}
	return readCloser{lr, in[0]}, nil
}

// lzmaCoder reads a 7z LZMA coder: 5 property bytes (lc/lp/pb, the
// dictionary size), given to ulikunitz/xz/lzma as a .lzma header with the
// declared output size.
func lzmaCoder(p []byte, size uint64, in []io.ReadCloser) (io.ReadCloser, error) {
	if len(in) != 1 || len(p) != 5 {
		return nil, errors.New("lzma: bad coder")
	}
	h := make([]byte, lzma.HeaderLen)
	h[0] = p[0]
	binary.LittleEndian.PutUint32(h[1:], uint32(coderDict(uint64(binary.LittleEndian.Uint32(p[1:])), size)))
	binary.LittleEndian.PutUint64(h[5:], size)
	lr, err := lzma.NewReader(io.MultiReader(bytes.NewReader(h), in[0]))
	if err != nil {
		return nil, fmt.Errorf("lzma: %w", err)
	}
	return readCloser{lr, in[0]}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
