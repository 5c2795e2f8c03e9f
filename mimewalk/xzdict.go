package mimewalk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// xzMaxDict returns the largest LZMA2 dictionary any block of the xz file
// r (n bytes) declares. github.com/ulikunitz/xz allocates each block's
// declared dictionary whole, up to 4 GiB, whatever the block's size: a
// 64-byte file written with `xz --lzma2=dict=1536MiB` cost 1.5 GiB, a zip
// of 200 of them 3.1 GB resident. The blocks are found the way xz -l finds
// them, from each stream's footer and index backwards (The .xz File
// Format 1.1.0, sections 2.1.2, 3.1 and 4), so every block of every
// concatenated stream is judged before one byte is decoded.
func xzMaxDict(r io.ReaderAt, n int64) (uint64, error) {
	read := func(off, size int64) ([]byte, error) {
		if off < 0 || size < 0 || off+size > n {
			return nil, errors.New("truncated")
		}
		b := make([]byte, size)
		if _, err := r.ReadAt(b, off); err != nil {
			return nil, err
		}
		return b, nil
	}
	var most uint64
	end := n
	for end > 0 {
		// Stream padding: groups of four zero bytes after a stream.
		for end >= 4 {
			b, err := read(end-4, 4)
			if err != nil {
				return 0, err
			}
			if !bytes.Equal(b, []byte{0, 0, 0, 0}) {
				break
			}
			end -= 4
		}
		footer, err := read(end-12, 12)
		if err != nil {
			return 0, err
		}
		if footer[10] != 'Y' || footer[11] != 'Z' {
			return 0, errors.New("no stream footer")
		}
		idxSize := (int64(binary.LittleEndian.Uint32(footer[4:8])) + 1) * 4
		idxStart := end - 12 - idxSize
		idx, err := read(idxStart, idxSize)
		if err != nil {
			return 0, err
		}
		blocks, err := xzIndex(idx)
		if err != nil {
			return 0, err
		}
		var size int64
		for _, u := range blocks {
			size += (u + 3) &^ 3
		}
		start := idxStart - size - 12
		head, err := read(start, 12)
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(head[:6], []byte("\xfd7zXZ\x00")) {
			return 0, errors.New("no stream header where the index puts it")
		}
		off := start + 12
		for _, u := range blocks {
			d, err := xzBlockDict(read, off)
			if err != nil {
				return 0, err
			}
			most = max(most, d)
			off += (u + 3) &^ 3
		}
		end = start
	}
	return most, nil
}

// xzIndex returns the unpadded sizes of an index's records (section 4).
func xzIndex(idx []byte) ([]int64, error) {
	if len(idx) == 0 || idx[0] != 0 {
		return nil, errors.New("no index")
	}
	p := 1
	count, err := xzVarint(idx, &p)
	if err != nil {
		return nil, err
	}
	// Each record takes at least two bytes: a count past that is a lie.
	if count > uint64(len(idx)/2) {
		return nil, errors.New("index count past its size")
	}
	sizes := make([]int64, 0, count)
	for range count {
		u, err := xzVarint(idx, &p)
		if err != nil {
			return nil, err
		}
		if _, err := xzVarint(idx, &p); err != nil {
			return nil, err
		}
		if u < 5 || u > 1<<62 {
			return nil, errors.New("bad block size in the index")
		}
		sizes = append(sizes, int64(u))
	}
	return sizes, nil
}

// xzBlockDict returns the LZMA2 dictionary the block header at off
// declares (section 3.1; 0 when its filters have no LZMA2).
func xzBlockDict(read func(off, size int64) ([]byte, error), off int64) (uint64, error) {
	b, err := read(off, 1)
	if err != nil {
		return 0, err
	}
	if b[0] == 0 {
		return 0, errors.New("an index where a block header should be")
	}
	h, err := read(off, (int64(b[0])+1)*4)
	if err != nil {
		return 0, err
	}
	flags := h[1]
	p := 2
	for _, bit := range []byte{0x40, 0x80} { // compressed, uncompressed size
		if flags&bit != 0 {
			if _, err := xzVarint(h, &p); err != nil {
				return 0, err
			}
		}
	}
	var dict uint64
	for range int(flags&3) + 1 {
		id, err := xzVarint(h, &p)
		if err != nil {
			return 0, err
		}
		size, err := xzVarint(h, &p)
		if err != nil {
			return 0, err
		}
		if size > uint64(len(h)-p) {
			return 0, errors.New("filter properties past the block header")
		}
		if id == 0x21 { // LZMA2: one byte, the dictionary size's code
			if size != 1 || h[p] > 40 {
				return 0, fmt.Errorf("bad LZMA2 properties")
			}
			if c := h[p]; c == 40 {
				dict = 1<<32 - 1
			} else {
				dict = uint64(2|c&1) << (c/2 + 11)
			}
		}
		p += int(size)
	}
	return dict, nil
}

// xzVarint reads a multibyte integer (section 1.2) at *p.
func xzVarint(b []byte, p *int) (uint64, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		if *p >= len(b) {
			return 0, errors.New("truncated integer")
		}
		c := b[*p]
		*p++
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("integer too long")
}
