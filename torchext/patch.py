"""torchext.patch / torchext.unpatch: swap torchext forwards into an existing model, in place.

    model = torchext.patch(model)                          # returns the same model
    model, report = torchext.patch(model, return_report=True)
    torchext.unpatch(model)                                # native classes back, exactly

patch walks every submodule and switches the class of each one:
- a module torchext mirrors (the op table's torchext.nn classes: Conv2d, BatchNorm2d, ReLU, ...;
  torchvision's ResNet, BasicBlock and Bottleneck via torchext.resnet) becomes that mirror;
- any other module with a forward of its own (torchvision's blocks: DenseNet's dense layers,
  Inception's branches, squeeze-excitation, inverted residuals; leaf modules torchext has no
  mirror for; subclasses of mirrored types) becomes a *routed* subclass of its own class whose
  forward runs the native forward under torchext.enable(): the torch functions, Tensor methods
  and operators it calls (torch.cat, F.avg_pool2d, `x * scale`, `out + identity`) go to torchext
  where the op table routes them. The mode is entered once, at the outermost routed module.
Pure containers (Sequential, ModuleList, ModuleDict) and Identity compute nothing and are left.

Only the class changes: the Parameter and buffer objects, state_dict keys, hooks, training flag,
device and dtype are the module's own, so an optimizer built before patching keeps working, and
.to(), train(), eval(), deepcopy and pickling behave as before; isinstance checks against the
original class still hold.

What stays native: mirrored types in a configuration torchext does not compute (e.g. Conv2d with
padding_mode='reflect'), named with the reason in one warnings.warn per call and in the
PatchReport; and, inside routed forwards, the calls torchext does not route (other ops, integer
tensors; `python -m torchext coverage` measures what is left per model).

Patching is idempotent and cheap (one walk over the modules, a class check each), so call it
again after changing the model: a module assigned after patching (`model.fc = nn.Linear(512,
10)`) is native until torchext.patch(model) runs again. A whole patched model pickled with
torch.save(model) needs torchext importable to load (its classes are torchext's); a state_dict
does not.
"""
import collections
import dataclasses
import importlib
import threading
import warnings

from torch import nn

from .mode import enable
from .optable import module_mirrors

__all__ = ["PatchReport", "patch", "unpatch"]


def _mirrors():
    mirrors = module_mirrors()  # each op's torchext.nn mirrors, from the op table
    try:
        from . import resnet
    except ImportError:  # torchvision is not installed: nothing of it to patch
        return mirrors
    return mirrors + [resnet.BasicBlock, resnet.Bottleneck, resnet.ResNet]


_MIRRORS = _mirrors()
_NATIVE_OF = {cls: cls._torchext_native for cls in _MIRRORS}  # torchext class -> native class
_MIRROR_OF = {native: cls for cls, native in _NATIVE_OF.items()}
_OURS = tuple(_MIRRORS)
# Modules whose forward computes nothing of its own: left as they are.
_NOTHING_TO_COMPUTE = (nn.Identity, nn.Sequential, nn.ModuleList, nn.ModuleDict)


# Routed classes: one subclass per native class, made on first use and cached, so that a class
# check, deepcopy and pickle see one class object. Its name encodes the native class's module and
# qualified name ('.' written as '/', which pickle does not split on) so that unpickling in a new
# process rebuilds it through this module's __getattr__.
_ROUTED = {}
_ROUTED_PREFIX = "Routed:"
_inside = threading.local()  # set while a routed forward runs: inner ones do not enter the mode


def _routed_forward(self, *args, **kwargs):
    native_forward = type(self)._torchext_native.forward
    if getattr(_inside, "active", False):
        return native_forward(self, *args, **kwargs)
    _inside.active = True
    try:
        with enable():
            return native_forward(self, *args, **kwargs)
    finally:
        _inside.active = False


def _routed_class(native):
    cls = _ROUTED.get(native)
    if cls is None:
        name = _ROUTED_PREFIX + native.__module__.replace(".", "/") + ":" + native.__qualname__.replace(".", "/")
        cls = type(native.__name__, (native,), {
            "forward": _routed_forward, "_torchext_native": native, "_torchext_routed": True,
            "__module__": __name__, "__qualname__": name, "__doc__": native.__doc__})
        _ROUTED[native] = cls
    return cls


def __getattr__(name):
    """The routed class a pickle names (see _routed_class)."""
    if not name.startswith(_ROUTED_PREFIX):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, _, qualname = name[len(_ROUTED_PREFIX):].partition(":")
    native = importlib.import_module(module_name.replace("/", "."))
    for part in qualname.split("/"):
        native = getattr(native, part)
    return _routed_class(native)


def _is_routed(cls):
    return cls.__dict__.get("_torchext_routed", False)


@dataclasses.dataclass
class PatchReport:
    """What torchext.patch did to a model.

    patched: torchext class name -> number of modules that now run as torchext mirrors
        (including those already patched by an earlier call).
    routed: class name -> number of modules whose own forward now runs under torchext.enable().
    native: qualified module name ('' for the root) -> why it stays native.
    """

    patched: dict = dataclasses.field(default_factory=dict)
    native: dict = dataclasses.field(default_factory=dict)
    routed: dict = dataclasses.field(default_factory=dict)

    def __str__(self):
        swapped = ", ".join(f"{n} x{c}" for n, c in sorted(self.patched.items())) or "nothing"
        lines = [f"torchext.patch: {sum(self.patched.values())} modules on torchext ({swapped})"]
        if self.routed:
            routed = ", ".join(f"{n} x{c}" for n, c in sorted(self.routed.items()))
            lines.append(f"  routed through torchext.enable(): {routed}")
        lines += [f"  native: {name or '<root>'}: {why}" for name, why in self.native.items()]
        return "\n".join(lines)


def _unsupported(mirror, module):
    """Why `module` cannot run as `mirror` (None when it can)."""
    check = getattr(mirror, "_torchext_unsupported", None)
    return None if check is None else check(module)


def patch(model, *, return_report=False):
    """Switches every supported submodule of `model` (and `model` itself) to its torchext mirror,
    and every other module with a forward of its own to its routed class, in place. Returns
    `model`, or `(model, PatchReport)` when return_report=True."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"torchext.patch expects an nn.Module, got {type(model).__name__}")
    patched = collections.Counter()
    routed = collections.Counter()
    native = {}
    for name, module in model.named_modules():
        cls = type(module)
        if _is_routed(cls):
            cls = cls._torchext_native
        mirror = cls if cls in _NATIVE_OF else _MIRROR_OF.get(cls)
        if mirror is not None:
            # Checked on patched modules too: a configuration changed since is switched back.
            reason = _unsupported(mirror, module)
            module.__class__ = mirror if reason is None else _NATIVE_OF[mirror]
            if reason is None:
                patched[mirror.__name__] += 1
            else:
                native[name] = reason
        elif isinstance(module, _OURS):  # the user's own subclass of a torchext module
            patched[cls.__name__] += 1
        elif type(module) not in _NOTHING_TO_COMPUTE:
            module.__class__ = _routed_class(cls)
            routed[cls.__name__] += 1
    report = PatchReport(dict(patched), native, dict(routed))
    if native:
        listed = "; ".join(f"{name or '<root>'} ({why})" for name, why in native.items())
        warnings.warn(f"torchext.patch: {len(native)} module(s) stay native: {listed}",
                      stacklevel=2)
    return (model, report) if return_report else model


def unpatch(model):
    """Switches every torchext and routed module in `model` back to the class it mirrors or
    routes (modules built directly as torchext.nn classes too; the user's own subclasses of
    torchext classes are left alone). Returns `model`."""
    for module in model.modules():
        cls = type(module)
        native = cls._torchext_native if _is_routed(cls) else _NATIVE_OF.get(cls)
        if native is not None:
            module.__class__ = native
    return model
