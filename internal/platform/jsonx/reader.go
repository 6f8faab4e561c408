package jsonx

// A Reader reads one JSON document in a single pass, value by value, for
// callers that pick a few members out of a large document (a Bundle's
// entries) without decoding the rest: what they skip is checked, not
// built. Every method reads the next value; after an error the Reader is
// done.
type Reader struct{ d decoder }

// NewReader returns a Reader of data.
func NewReader(data []byte) *Reader { return &Reader{decoder{data: data}} }

// Peek returns the first byte of the next value ('{', '[', '"', 't', 'f',
// 'n', or a number's first byte), or 0 at the end of the input.
func (r *Reader) Peek() byte {
	r.d.ws()
	if r.d.i >= len(r.d.data) {
		return 0
	}
	return r.d.data[r.d.i]
}

// Object reads an object, calling member with each member's name; member
// must read the member's value with one of the Reader's methods. A null
// reads as an object without members; any other value is an error.
func (r *Reader) Object(member func(key string) error) error {
	switch r.Peek() {
	case 'n':
		return r.d.literal("null")
	case '{':
	default:
		return r.mismatch("an object")
	}
	return r.d.elements('}', "object key:value pair", func() error {
		k, err := r.d.memberKey()
		if err != nil {
			return err
		}
		return member(k)
	})
}

// Array reads an array, calling element for each element, which must read
// it. A null reads as an empty array; any other value is an error.
func (r *Reader) Array(element func(i int) error) error {
	switch r.Peek() {
	case 'n':
		return r.d.literal("null")
	case '[':
	default:
		return r.mismatch("an array")
	}
	i := 0
	return r.d.elements(']', "array element", func() error {
		i++
		return element(i - 1)
	})
}

// String reads a string. A null reads as "".
func (r *Reader) String() (string, error) {
	switch r.Peek() {
	case 'n':
		return "", r.d.literal("null")
	case '"':
	default:
		return "", r.mismatch("a string")
	}
	r.d.build = true
	v, err := r.d.str()
	r.d.build = false
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// Raw reads any value and returns its bytes as they appear in the input.
func (r *Reader) Raw() ([]byte, error) {
	r.d.ws()
	start := r.d.i
	if _, err := r.d.value(); err != nil {
		return nil, err
	}
	return r.d.data[start:r.d.i], nil
}

// Skip reads any value and drops it.
func (r *Reader) Skip() error {
	_, err := r.d.value()
	return err
}

// End checks that nothing but white space is left.
func (r *Reader) End() error { return r.d.end() }

func (r *Reader) mismatch(want string) error {
	if r.d.i >= len(r.d.data) {
		return r.d.eof()
	}
	return r.d.errorf("expected " + want + ", found " + quoteChar(r.d.data[r.d.i]))
}
