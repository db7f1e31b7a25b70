// keeps an otherwise empty static library valid
namespace ringtree { int kPlaceholder = 0; }
